// Recovery codes: Download (a text file) and Copy; on the page that shows
// new codes, either one ticks "I have saved these codes", which Done requires.
(function () {
  var text = document.getElementById("recovery-codes-text");
  var saved = document.getElementById("codes-saved");
  var status = document.getElementById("codes-status");
  if (!text) return;
  function done(message) {
    if (saved) saved.checked = true;
    if (status) status.textContent = message;
  }
  var download = document.getElementById("codes-download");
  if (download) download.addEventListener("click", function () {
    var blob = new Blob([text.value], { type: "text/plain" });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = download.dataset.filename || "recovery-codes.txt";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
    done("Downloaded.");
  });
  var copy = document.getElementById("codes-copy");
  if (copy) copy.addEventListener("click", function () {
    var ok = function () { done("Copied to the clipboard."); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text.value).then(ok, function () {
        text.select(); document.execCommand("copy"); ok();
      });
    } else {
      text.select(); document.execCommand("copy"); ok();
    }
  });
})();
