// Copy buttons for a value shown once (a new access token): a button with
// data-copy="<id of the element holding the value>" copies its text and says
// so in the element named by data-status. Without the clipboard API (or
// when it is refused) the text is selected instead, so Ctrl+C copies it.
(function () {
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.status);
    if (!source) return;
    button.hidden = false;
    function say(message) { if (status) status.textContent = message; }
    function fallback() {
      selectText(source);
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      say(copied ? "Copied." : "Selected: press Ctrl+C (⌘C on a Mac) to copy.");
    }
    button.addEventListener("click", function () {
      var text = source.textContent.trim();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { say("Copied."); }, fallback);
      } else {
        fallback();
      }
    });
  });
})();
