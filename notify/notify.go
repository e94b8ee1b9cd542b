// Package notify sends notifications to people: an interface, Notifier, and
// its SMTP implementation, configured by one URL.
//
//	n, err := notify.ParseSMTPURL("smtp://user:pass@mail.example.com:587?from=hub@example.com")
//	...
//	err = n.Send(ctx, notify.Message{To: []string{"ops@example.com"},
//		Subject: "Key rotated", Text: "The signing key was rotated."})
//
// It carries no product identity: any Go service can use it.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// Message is one plain-text notification.
type Message struct {
	// To lists the recipients' addresses (at least one).
	To      []string
	Subject string
	// Text is the body, UTF-8 plain text.
	Text string
}

// Notifier sends messages. Send returns when the message was handed over
// (for SMTP: accepted by the server), or with the reason it was not.
type Notifier interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidMessage is returned (wrapped) for a message that cannot be sent
// as given: no recipient, an address that does not parse, a line break in
// the subject.
var ErrInvalidMessage = errors.New("notify: invalid message")

// Validate checks m and returns the recipients' bare addresses.
func (m Message) Validate() ([]string, error) {
	if len(m.To) == 0 {
		return nil, fmt.Errorf("%w: no recipient", ErrInvalidMessage)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("%w: line break in the subject", ErrInvalidMessage)
	}
	addrs := make([]string, 0, len(m.To))
	for _, to := range m.To {
		a, err := parseAddress(to)
		if err != nil {
			return nil, fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// parseAddress returns the bare address of one RFC 5322 address, refusing
// line breaks (header injection) and lists.
func parseAddress(s string) (string, error) {
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("line break in an address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", errors.New("not an e-mail address")
	}
	return a.Address, nil
}
