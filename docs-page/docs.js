// Starts swagger-ui on the Worker's own document. Everything comes from this origin: the page's
// Content-Security-Policy allows nothing else (no validator badge, no CDN, no remote fonts).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayOperationId: true,
    persistAuthorization: false,
    validatorUrl: null,
  });
});
