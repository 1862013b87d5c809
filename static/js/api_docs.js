// Swagger UI over the app's own OpenAPI document (URL from the page, no inline script).
"use strict";
(() => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.specUrl, dom_id: "#swagger-ui" });
})();
