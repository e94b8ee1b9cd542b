package redisstore_test

import (
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

func ExampleNew() {
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	opt.ContextTimeoutEnabled = true // abandoned calls end early too
	client := redis.NewClient(opt)
	// While Redis is down, commands fail at once instead of each waiting.
	client.AddHook(redisstore.NewBreaker(redisstore.BreakerConfig{}))
	rl, err := ratelimit.New(ratelimit.Config{
		Store:   redisstore.New(client, "myapp:ratelimit"),
		Limits:  ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(600)}},
		Key:     func(r *http.Request) (string, bool) { return r.RemoteAddr, true },
		Route:   func(r *http.Request) string { return r.URL.Path },
		KeySalt: []byte(os.Getenv("RATE_LIMIT_SALT")),
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = rl.Middleware(http.NotFoundHandler())
}
