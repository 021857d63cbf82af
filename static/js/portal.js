// Quaygate portal niceties. Every page works without this file; it only makes things quicker.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="input-id" hidden>. Shown only when copying can work.
  function setupCopy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!target) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () {
        if (status) status.textContent = "Copied";
        button.textContent = "Copied";
        window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(target.value).then(done, function () {
          target.select();
          if (status) status.textContent = "Press Ctrl+C (⌘C) to copy";
        });
      } else {
        target.focus();
        target.select();
        try { if (document.execCommand("copy")) done(); } catch (e) { /* select is enough */ }
      }
    });
  }

  // The secret leaves the page when the page is left, so a back/forward cache has nothing to
  // restore. (The server also sends Cache-Control: no-store and forgets the secret.)
  function setupSecret(input) {
    input.addEventListener("focus", function () { input.select(); });
    window.addEventListener("pagehide", function () {
      input.value = "";
      input.setAttribute("value", "");
    });
  }

  // Write implies read: ticking write ticks read; unticking read unticks write.
  function setupScopes(table) {
    table.querySelectorAll("tr[data-resource]").forEach(function (row) {
      var read = row.querySelector("input[data-access='read']");
      var write = row.querySelector("input[data-access='write']");
      if (!read || !write) return;
      write.addEventListener("change", function () {
        if (write.checked && !read.disabled) read.checked = true;
      });
      read.addEventListener("change", function () {
        if (!read.checked) write.checked = false;
      });
    });
  }

  // Show a dependent block only when its controlling radio has the given value.
  function setupToggle(block) {
    var name = block.getAttribute("data-show-when-name");
    var value = block.getAttribute("data-show-when-value");
    var radios = document.querySelectorAll("input[name='" + name + "']");
    var update = function () {
      var chosen = document.querySelector("input[name='" + name + "']:checked");
      var show = chosen && chosen.value === value;
      // Keep a block with an error visible, so its message is never hidden.
      block.hidden = !show && !block.querySelector(".errorlist");
    };
    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-copy]").forEach(setupCopy);
    document.querySelectorAll("[data-secret]").forEach(setupSecret);
    document.querySelectorAll(".scope-table").forEach(setupScopes);
    document.querySelectorAll("[data-show-when-name]").forEach(setupToggle);
  });
})();
