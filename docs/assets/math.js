// Typeset the spans and blocks that pymdownx.arithmatex (generic mode) writes, with the KaTeX
// files served from the site itself (docs/assets/katex): no network is needed.
(function () {
  function typeset(root) {
    root.querySelectorAll(".arithmatex").forEach(function (el) {
      if (el.dataset.typeset) return;
      var tex = el.textContent.trim();
      var display = tex.startsWith("\\[");
      if (tex.startsWith("\\(") || display) tex = tex.slice(2, -2);
      try {
        katex.render(tex, el, { displayMode: display, throwOnError: false });
        el.dataset.typeset = "1";
      } catch (e) {
        console.error("KaTeX could not typeset", tex, e);
      }
    });
  }
  if (typeof document$ !== "undefined") {
    // mkdocs-material: also after instant navigation
    document$.subscribe(function () { typeset(document); });
  } else {
    document.addEventListener("DOMContentLoaded", function () { typeset(document); });
  }
})();
