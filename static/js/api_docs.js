/* /api/docs: start Swagger UI on the document named by #swagger-ui's data-spec-url.
 * Kept out of the page so the Content-Security-Policy needs no 'unsafe-inline'. */
"use strict";
(() => {
  const root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
  });
})();
