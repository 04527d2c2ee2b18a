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
  // Search-as-you-type: fill an input's datalist from the API (the page never lists every tag).
  document.querySelectorAll("input[data-suggest]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = input.dataset.suggest + "?limit=20&prefix=" + encodeURIComponent(input.value);
        fetch(url, { credentials: "same-origin" }).then(function (response) {
          return response.ok ? response.json() : [];
        }).then(function (values) {
          list.replaceChildren.apply(list, values.map(function (value) {
            var option = document.createElement("option");
            option.value = value;
            return option;
          }));
        }).catch(function () {});
      }, 150);
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
