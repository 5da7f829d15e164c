// Reloads the page every N seconds, N from the script tag's
// data-refresh-seconds (the sandbox outbox, so a test-mode code shows up
// without a click). A file rather than an inline script: the
// Content-Security-Policy allows only the store's own script files.
(function () {
  var script = document.currentScript;
  var seconds = script ? parseInt(script.dataset.refreshSeconds, 10) : NaN;
  if (seconds > 0) {
    setTimeout(function () { location.reload(); }, seconds * 1000);
  }
})();
