package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/hubchantier/hubchantier/client"
	"github.com/hubchantier/hubchantier/client/apiv2"
)

func ExampleNew() {
	c, err := client.New("https://hub.example.com",
		client.WithAPIKey(os.Getenv("HUB_API_KEY")),
		client.WithUserAgent("planning-sync/1.4"),
		client.WithHTTPClient(&http.Client{Timeout: 20 * time.Second}),
	)
	if err != nil {
		log.Fatal(err)
	}
	me, err := c.V2.Me(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(me.Email, me.Scopes)
}

func ExampleWithTokenSource() {
	cc := clientcredentials.Config{
		ClientID:     "planning-sync",
		ClientSecret: os.Getenv("HUB_CLIENT_SECRET"),
		TokenURL:     "https://hub.example.com/oauth/token",
		Scopes:       []string{"chantiers:read"},
	}
	ctx := context.Background()
	// The token source caches the token and renews it when it expires.
	c, err := client.New("https://hub.example.com", client.WithTokenSource(cc.TokenSource(ctx)))
	if err != nil {
		log.Fatal(err)
	}
	_ = c
}

func ExampleResource_List() {
	c, _ := client.New("https://hub.example.com", client.WithAPIKey(os.Getenv("HUB_API_KEY")))
	status := apiv2.ListChantiersParamsStatus("en_cours")
	params := &apiv2.ListChantiersParams{Status: &status, Sort: ptr("-updatedAt")}
	// Pages are fetched as the loop goes; break stops fetching.
	for ch, err := range c.V2.Chantiers.List(context.Background(), params) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ch.Code, ch.Name, ch.UpdatedAt)
	}
}

func ExampleResource_Pages() {
	c, _ := client.New("https://hub.example.com", client.WithAPIKey(os.Getenv("HUB_API_KEY")))
	for page, err := range c.V2.Pointages.Pages(context.Background(), &apiv2.ListPointagesParams{Limit: ptr(100)}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(len(page.Items), "pointages; more:", page.NextCursor != "")
	}
}

func ExampleIfVersion() {
	c, _ := client.New("https://hub.example.com", client.WithAPIKey(os.Getenv("HUB_API_KEY")))
	ctx := context.Background()
	ch, err := c.V2.Chantiers.Get(ctx, 42) // a second Get is answered 304 from the cache
	if err != nil {
		log.Fatal(err)
	}
	patch := &apiv2.ChantierPatch{Name: ptr(ch.Name + " (phase 2)")}
	_, err = c.V2.Chantiers.Update(ctx, ch.Id, patch, client.IfVersion(ch.Version))
	if errors.Is(err, client.ErrPreconditionFailed) {
		fmt.Println("changed since it was read: read it again and redo the change")
	}
}

func ExampleError() {
	c, _ := client.New("https://hub.example.com", client.WithAPIKey(os.Getenv("HUB_API_KEY")))
	_, err := c.V2.Chantiers.Create(context.Background(), &apiv2.ChantierInput{Code: "CH-1", Name: "Les Tilleuls", Location: ""})
	var perr *client.Error
	if errors.As(err, &perr) {
		fmt.Println(perr.Status, perr.Code(), perr.Detail, perr.RequestID)
		for _, fe := range perr.Errors {
			fmt.Printf("  %s: %s\n", fe.Field, fe.Message)
		}
	}
}

func ExampleWithRetryPolicy() {
	c, _ := client.New("https://hub.example.com",
		client.WithAPIKey(os.Getenv("HUB_API_KEY")),
		client.WithRetryPolicy(client.RetryPolicy{
			MaxAttempts: 6,               // per request
			MaxWait:     2 * time.Minute, // a longer Retry-After returns the 429/503 at once
			Budget:      client.RetryBudget{Tokens: 20, Refill: 0.2},
		}),
		client.WithOnRetry(func(ev client.RetryEvent) {
			log.Printf("%s %s: %d, retry in %v", ev.Method, ev.Path, ev.Status, ev.Wait)
		}),
	)
	_, err := c.V2.Stats(context.Background())
	if errors.Is(err, client.ErrRetryBudgetExhausted) {
		log.Print("the server keeps refusing: back off")
	}
}

func ExampleWithOnDeprecation() {
	c, _ := client.New("https://hub.example.com",
		client.WithAPIKey(os.Getenv("HUB_API_KEY")),
		client.WithOnDeprecation(func(d client.Deprecation) {
			log.Printf("%s is deprecated since %s and stops on %s: see %s", d.Path, d.Since, d.Sunset, d.Link)
		}))
	_, _ = c.V1.Me(context.Background()) // logs once for v1
}
