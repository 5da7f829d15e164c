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
