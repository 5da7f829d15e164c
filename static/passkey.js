// Passkeys and security keys: hands the server's WebAuthn options (the
// form's data-options, JSON with base64url binary fields, as webauthn-rs
// writes them) to the browser, and posts the browser's answer back in the
// form's "credential" field (JSON, base64url again). data-passkey="create"
// adds a key; "get" signs in with one. Says plainly what went wrong when
// the browser has no WebAuthn or the user cancels.
(function () {
  "use strict";
  var form = document.getElementById("passkey-form");
  if (!form) return;
  var status = document.getElementById("passkey-status");
  var button = form.querySelector("button[type=submit]");

  function say(text) { if (status) status.textContent = text; }

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBytes(pk.challenge);
    pk.user.id = toBytes(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBytes(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: pk };
  }

  function created(c) {
    return {
      id: c.id,
      rawId: toText(c.rawId),
      type: c.type,
      response: {
        attestationObject: toText(c.response.attestationObject),
        clientDataJSON: toText(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : undefined
      },
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }

  function asserted(c) {
    return {
      id: c.id,
      rawId: toText(c.rawId),
      type: c.type,
      response: {
        authenticatorData: toText(c.response.authenticatorData),
        clientDataJSON: toText(c.response.clientDataJSON),
        signature: toText(c.response.signature),
        userHandle: toText(c.response.userHandle)
      },
      extensions: {}
    };
  }

  function why(err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "AbortError") {
      return "The request was cancelled or timed out. Press the button to try again, or use another way.";
    }
    if (name === "InvalidStateError") {
      return "This key is already added to your account. Use another key.";
    }
    if (name === "SecurityError") {
      return "Your browser refused: this page's address does not match the store's configured address (server.public_url).";
    }
    return "Your browser could not use a passkey here (" + (name || "error") + "). Try again, or use another way.";
  }

  var supported = window.PublicKeyCredential && navigator.credentials;
  if (!supported) {
    say("This browser cannot use passkeys or security keys. Use another way, or a browser that supports them.");
    if (button) button.disabled = true;
    return;
  }

  var creating = form.dataset.passkey === "create";
  var busy = false;
  form.addEventListener("submit", function (e) {
    // The answer is posted with form.submit(), which fires no event; this
    // handler runs only for the button, and keeps forms.js out of it.
    e.preventDefault();
    e.stopPropagation();
    if (busy) return;
    var options;
    try {
      options = JSON.parse(form.dataset.options);
    } catch (err) {
      say("The page is missing its passkey request. Reload it and try again.");
      return;
    }
    busy = true;
    if (button) { button.dataset.label = button.textContent; button.textContent = button.dataset.busy || "Waiting…"; button.disabled = true; }
    say(creating ? "Follow your browser's prompt to make the key." : "Follow your browser's prompt to use your key.");
    var ask = creating
      ? navigator.credentials.create(creationOptions(options))
      : navigator.credentials.get(requestOptions(options));
    ask.then(function (credential) {
      if (!credential) throw { name: "NotAllowedError" };
      form.elements.credential.value = JSON.stringify(creating ? created(credential) : asserted(credential));
      say("Checking…");
      form.submit();
    }).catch(function (err) {
      busy = false;
      if (button) { button.textContent = button.dataset.label; button.disabled = false; }
      // Pressing again reuses the same challenge: the server keeps it
      // until an answer is posted or 5 minutes pass.
      say(why(err));
    });
  }, true);
})();
