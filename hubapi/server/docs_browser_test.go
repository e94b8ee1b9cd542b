package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/browsertest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// TestDocsPageInBrowser loads /docs in headless Chromium: Swagger UI
// renders the v2 document, the version switcher loads the v1 document
// (every operation shown deprecated) and back, and GET /users/me of v2 is tried from the page with an API key
// typed into "Authorize" (the request goes to this server and answers 200
// with the v2 representation). CI runs it (HUB_TEST_BROWSER=1).
func TestDocsPageInBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{})
	key := env.Key(hubapi.RoleConducteur)

	const titleSel = chromedp.CSS(".information-container .title")
	// switchTo picks a version in the header's switcher and waits for
	// Swagger UI to show the document of that version.
	switchTo := func(version, docVersion string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.SetValue(chromedp.ID("hub-version"), version),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := chromedp.Evaluate[bool](`document.getElementById("hub-version").dispatchEvent(new Event("change"))`)(ctx, tg)
				return err
			}),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := chromedp.Poll[bool](`((document.querySelector(".information-container .title") || {}).textContent || "").includes("`+docVersion+`")`,
					chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
				return err
			}),
		)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(env.URL+"/docs"), chromedp.WaitVisible(titleSel)); err != nil {
		t.Fatalf("load /docs: %v", err)
	}
	v2Title, err := chromedp.Run(ctx, chromedp.Text(titleSel))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v2Title, "Hub Chantier API v2") || !strings.Contains(v2Title, "2.0.0") {
		t.Errorf("default document title %q, want v2", v2Title)
	}

	if err := chromedp.Do(ctx, switchTo("v1", "1.0.0")); err != nil {
		t.Fatalf("switch to v1: %v", err)
	}
	v1Title, _ := chromedp.Run(ctx, chromedp.Text(titleSel))
	if !strings.Contains(v1Title, "Hub Chantier API") || strings.Contains(v1Title, "v2") {
		t.Errorf("v1 document title %q", v1Title)
	}
	// Every v1 operation is shown deprecated (the document marks them), no v2 one.
	countDeprecated := `document.querySelectorAll(".opblock.opblock-deprecated").length`
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](countDeprecated)); err != nil || n < 40 {
		t.Errorf("v1: %d operations shown deprecated (%v), want every one", n, err)
	}
	if err := chromedp.Do(ctx, switchTo("v2", "2.0.0")); err != nil {
		t.Fatalf("switch back to v2: %v", err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](countDeprecated)); err != nil || n != 0 {
		t.Errorf("v2: %d operations shown deprecated (%v)", n, err)
	}

	const op = "#operations-Utilisateurs-getCurrentUser"
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(".btn.authorize")),
		chromedp.WaitVisible(chromedp.CSS(".modal-ux input")),
		chromedp.SendKeys(chromedp.CSS(".modal-ux input"), key),
		chromedp.Click(chromedp.CSS(".modal-ux .auth-btn-wrapper button.authorize")),
		chromedp.Click(chromedp.CSS(".modal-ux .btn-done")),
		chromedp.Click(chromedp.CSS(op+" .opblock-summary-control")),
		chromedp.Click(chromedp.CSS(op+" .try-out__btn")),
		chromedp.Click(chromedp.CSS(op+" .execute")),
		chromedp.WaitVisible(chromedp.CSS(op+" .live-responses-table tr.response .response-col_status")),
	)
	if err != nil {
		t.Fatalf("try GET /users/me: %v", err)
	}
	status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+" .live-responses-table tr.response .response-col_status")))
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+" .live-responses-table tr.response .response-col_description")))
	if !strings.Contains(status, "200") || !strings.Contains(body, `"lastName"`) || !strings.Contains(body, `"firstName": "conducteur"`) {
		t.Errorf("tried GET /api/v2/users/me: status %q, body %q", status, body)
	}
}
