// Renders the OpenAPI document of the page's data-spec-url with the
// vendored Swagger UI. Everything is served by this server: no CDN, no
// inline script (the page's Content-Security-Policy forbids both).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: new URL(root.getAttribute("data-spec-url"), document.baseURI).href,
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
})();
