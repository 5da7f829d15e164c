// Progress feedback: a submitted form disables its buttons and says so, so a
// slow gateway does not invite a second click.
document.addEventListener("submit", function (e) {
  var form = e.target;
  if (form.dataset.submitted) { e.preventDefault(); return; }
  form.dataset.submitted = "1";
  var buttons = form.querySelectorAll("button");
  buttons.forEach(function (b) {
    if (b === e.submitter || buttons.length === 1) {
      b.dataset.label = b.textContent;
      b.textContent = b.dataset.busy || "Please wait…";
    }
    setTimeout(function () { b.disabled = true; }, 0);
  });
});

// A form shown again with errors: the focus starts on the error summary
// (or, without one, the first field in error), so keyboard and screen
// reader users hear what to fix first. Focusing now also keeps a field's
// autofocus from taking it back. The summary's links put the focus in
// their field, not only scroll to it.
(function () {
  var summary = document.getElementById("error-summary");
  var target = summary || document.querySelector("[aria-invalid='true']");
  if (target) target.focus();
  if (!summary) return;
  // The server lists errors by field name; show them in the form's order.
  var list = summary.querySelector("ul");
  var items = Array.prototype.slice.call(list.querySelectorAll("li"));
  var fieldOf = function (li) {
    var a = li.querySelector("a");
    return a && document.getElementById(a.getAttribute("href").slice(1));
  };
  items.sort(function (x, y) {
    var fx = fieldOf(x), fy = fieldOf(y);
    if (!fx || !fy) return 0;
    return fx.compareDocumentPosition(fy) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
  });
  items.forEach(function (li) { list.appendChild(li); });
  summary.addEventListener("click", function (e) {
    var link = e.target.closest("a[href^='#']");
    var field = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    e.preventDefault();
    field.focus();
    field.scrollIntoView({ block: "center" });
  });
})();
