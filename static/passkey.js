// Passkeys and security keys: hands the server's WebAuthn options (JSON
// with base64url binary fields, as webauthn-rs writes them) to the
// browser, and sends the browser's answer back (JSON, base64url again).
// Two uses:
// - #passkey-form: the options are the form's data-options; the answer is
//   posted in its "credential" field. data-passkey="create" adds a key;
//   "get" is the second step of a sign-in.
// - #passkey-sign-in (under the login forms): passkey sign-in with no
//   password. The options are fetched, the answer is sent as JSON, and the
//   page follows the "redirect" of the reply or shows its "message".
// Says plainly what went wrong when the browser has no WebAuthn or the
// user cancels.
(function () {
  "use strict";

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

  function why(err, signingIn) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "AbortError") {
      return signingIn
        ? "The request was cancelled or timed out, or this device has no passkey for this store. Press the button to try again, or sign in with your email and password."
        : "The request was cancelled or timed out. Press the button to try again, or use another way.";
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
  var form = document.getElementById("passkey-form");
  if (form) withForm(form);
  var offer = document.getElementById("passkey-sign-in");
  if (offer) signIn(offer);

  function busyButton(button, on) {
    if (!button) return;
    if (on) {
      button.dataset.label = button.textContent;
      button.textContent = button.dataset.busy || "Waiting…";
      button.disabled = true;
    } else {
      button.textContent = button.dataset.label || button.textContent;
      button.disabled = false;
    }
  }

  // Passkey sign-in from a login page.
  function signIn(offer) {
    var status = document.getElementById("passkey-sign-in-status");
    var button = document.getElementById("passkey-sign-in-button");
    function say(text) { if (status) status.textContent = text; }
    if (!supported) {
      say("This browser cannot use passkeys. Sign in with your email and password.");
      if (button) button.disabled = true;
      return;
    }
    function post(path, body) {
      return fetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": offer.dataset.csrf },
        body: body === undefined ? "{}" : JSON.stringify(body)
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (json) {
          if (!res.ok) {
            throw { message: json.message || "The store could not answer (" + res.status + "). Try again in a moment." };
          }
          return json;
        });
      }, function () {
        throw { message: "The store could not be reached. Check your connection and try again." };
      });
    }
    var busy = false;
    button.addEventListener("click", function () {
      if (busy) return;
      busy = true;
      busyButton(button, true);
      say("Preparing…");
      post(offer.dataset.optionsPath).then(function (options) {
        say("Follow your browser's prompt to use your passkey.");
        return navigator.credentials.get(requestOptions(options));
      }).then(function (credential) {
        if (!credential) throw { name: "NotAllowedError" };
        say("Checking…");
        return post(offer.dataset.answerPath, { credential: asserted(credential), next: offer.dataset.next });
      }).then(function (reply) {
        say("Signed in. Opening your page…");
        window.location.assign(reply.redirect || "/");
      }).catch(function (err) {
        busy = false;
        busyButton(button, false);
        say(err && err.message && !err.name ? err.message : why(err, true));
      });
    });
  }

  function withForm(form) {
    var status = document.getElementById("passkey-status");
    var button = form.querySelector("button[type=submit]");
    function say(text) { if (status) status.textContent = text; }
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
      busyButton(button, true);
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
        busyButton(button, false);
        // Pressing again reuses the same challenge: the server keeps it
        // until an answer is posted or 5 minutes pass.
        say(why(err));
      });
    }, true);
  }
})();
