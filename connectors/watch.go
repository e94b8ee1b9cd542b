package connectors

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"time"
)

// Channel is a push-notification channel a vendor calls when the data a
// connector syncs changes (Google Calendar's events.watch): the product
// gives its id, token and address, the vendor answers with its resource
// id and the expiration. The token is a secret: the product keeps only its
// hash and checks the notifications' token against it in constant time.
type Channel struct {
	ID         string
	Token      string
	Address    string
	ResourceID string
	Expiration time.Time
}

// String keeps the token out of logs and errors.
func (c Channel) String() string { return "channel " + c.ID }

// Watcher is a connector whose vendor pushes change notifications: the
// product opens a channel (Watch), renews it before it expires (a new
// channel, then StopWatch of the old one) and queues a sync when a
// notification arrives.
type Watcher interface {
	// Watch opens ch at the vendor for ttl (the vendor may shorten it):
	// the answer carries the vendor's ResourceID and Expiration.
	Watch(ctx context.Context, cfg Config, ch Channel, ttl time.Duration) (Channel, error)
	// StopWatch closes ch; a channel the vendor no longer knows is not
	// an error.
	StopWatch(ctx context.Context, cfg Config, ch Channel) error
}

// HashChannelToken is what the product keeps of a channel's token.
func HashChannelToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ChannelTokenMatches compares a notification's token with the kept hash
// in constant time.
func ChannelTokenMatches(hash, token string) bool {
	got := HashChannelToken(token)
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}
