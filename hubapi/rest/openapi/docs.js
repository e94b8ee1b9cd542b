// Renders the OpenAPI document of the version chosen in the header's
// switcher (v2 by default, or ?version=v1) with the vendored Swagger UI.
// Everything is served by this server: no CDN, no inline script (the
// page's Content-Security-Policy forbids both).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var select = document.getElementById("hub-version");
  var link = document.getElementById("hub-spec-link");
  if (!root || !select || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  var wanted = new URLSearchParams(window.location.search).get("version");
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === wanted) {
      select.selectedIndex = i;
    }
  }
  function specURL() {
    var opt = select.options[select.selectedIndex];
    return new URL(opt.getAttribute("data-spec-url"), document.baseURI).href;
  }
  function show() {
    link.setAttribute("href", select.options[select.selectedIndex].getAttribute("data-spec-url"));
    document.documentElement.setAttribute("data-api-version", select.value);
  }
  show();
  window.ui = window.SwaggerUIBundle({
    url: specURL(),
    domNode: root,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    // The API key typed in "Authorize" stays in memory: never in storage.
    persistAuthorization: false,
    // No call to the public validator service.
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
  select.addEventListener("change", function () {
    var url = specURL();
    show();
    var q = new URLSearchParams(window.location.search);
    q.set("version", select.value);
    window.history.replaceState(null, "", window.location.pathname + "?" + q.toString());
    window.ui.specActions.updateUrl(url);
    window.ui.specActions.download(url);
  });
})();
