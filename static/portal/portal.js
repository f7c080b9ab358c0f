// The enterprise portal's only script (served from /portal/static/, CSP script-src 'self': no inline
// script anywhere). Everything here is an enhancement: each page works without it.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  // The drawn picture, or none (hidden) where the licence data cannot be drawn.
  function showDrawn(img) {
    var drawn = img.getAttribute("data-drawn");
    if (drawn) { img.hidden = false; img.src = drawn; } else { img.hidden = true; img.removeAttribute("src"); }
  }

  ready(function () {
    // A refused form: bring the summary of its problems into view.
    var summary = document.getElementById("problems");
    if (summary) { summary.focus(); }

    // The "Preview" buttons are for browsers without script: here the preview follows the form live.
    document.querySelectorAll("[data-no-js]").forEach(function (el) { el.hidden = true; });

    // Single seal: choosing another type shows that type's drawn picture at once.
    document.querySelectorAll("select[data-preview-select]").forEach(function (select) {
      var img = document.getElementById(select.getAttribute("data-preview-select"));
      if (!img) { return; }
      var notice = document.getElementById(img.id + "_problem");
      select.addEventListener("change", function () {
        var option = select.options[select.selectedIndex];
        var problem = option.getAttribute("data-problem");
        var src = problem ? "" : option.getAttribute("data-src");
        img.setAttribute("data-drawn", src);
        if (notice) {
          notice.hidden = !problem;
          var why = notice.querySelector(".why");
          if (why) { why.textContent = problem || ""; }
        }
        var file = document.querySelector('input[type=file][data-preview-file="' + img.id + '"]');
        if (!file || !file.files || !file.files.length) { showDrawn(img); }
      });
    });

    // An uploaded PNG replaces the drawn picture in the preview (read in the browser; the server
    // still checks it when the form is sent). Clearing the file shows the drawn picture again.
    document.querySelectorAll("input[type=file][data-preview-file]").forEach(function (input) {
      var img = document.getElementById(input.getAttribute("data-preview-file"));
      if (!img) { return; }
      input.addEventListener("change", function () {
        var f = input.files && input.files[0];
        if (!f) { showDrawn(img); return; }
        var reader = new FileReader();
        reader.onload = function () {
          if (typeof reader.result === "string" && reader.result.indexOf("data:image/png") === 0) {
            img.hidden = false;
            img.src = reader.result;
          } else {
            showDrawn(img);
          }
        };
        reader.readAsDataURL(f);
      });
    });

    // Renewal: attaching a certificate request means "a new key".
    document.querySelectorAll("input[type=file][data-choose]").forEach(function (input) {
      input.addEventListener("change", function () {
        var radio = document.getElementById(input.getAttribute("data-choose"));
        if (radio && input.files && input.files.length) { radio.checked = true; }
      });
    });

    // The printable certificate: a print button (hidden until this script runs).
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  });
}());
