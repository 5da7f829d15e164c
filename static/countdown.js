// The resend cooldown on the code pages: a form with data-wait="N" keeps
// its buttons disabled for N seconds and counts down beside them. Without
// JavaScript the buttons stay usable and the server refuses an early
// resend with a message saying how long to wait.
document.querySelectorAll("form[data-wait]").forEach(function (form) {
  var left = parseInt(form.dataset.wait, 10);
  if (!(left > 0)) { return; }
  var buttons = form.querySelectorAll("button");
  var note = form.querySelector(".wait-note");
  function show() {
    if (note) {
      note.textContent = left > 0
        ? "You can ask for another code in " + left + " second" + (left === 1 ? "" : "s") + "."
        : "";
    }
    buttons.forEach(function (b) { b.disabled = left > 0; });
  }
  show();
  var timer = setInterval(function () {
    left -= 1;
    show();
    if (left <= 0) { clearInterval(timer); }
  }, 1000);
});
