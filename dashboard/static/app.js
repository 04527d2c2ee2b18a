// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Filter forms: apply a filter as soon as it changes.
  document.querySelectorAll("select[data-autosubmit], input[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () {
      var form = el.form;
      if (!form) return;
      var page = form.querySelector("input[name=page]");
      if (page) page.remove();
      form.requestSubmit ? form.requestSubmit() : form.submit();
    });
  });
  // Map: show the country under the pointer in words next to the legend.
  var map = document.getElementById("world-map");
  var hover = document.getElementById("map-hover");
  if (map && hover) {
    var idle = hover.textContent;
    map.addEventListener("mouseover", function (event) {
      var target = event.target.closest("[data-code], path.link");
      var title = target && target.querySelector("title");
      hover.textContent = title ? title.textContent : idle;
    });
    map.addEventListener("mouseleave", function () { hover.textContent = idle; });
  }
})();
