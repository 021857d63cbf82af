// Passkeys (WebAuthn) for the portal: register one on the Security page, use one at sign-in and
// in sudo mode. The server makes the options and checks the answer (py_webauthn); this file
// only carries them between it and navigator.credentials. No inline script: the CSP is strict.
(function () {
  "use strict";

  function fromB64url(value) {
    var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    json.challenge = fromB64url(json.challenge);
    json.user.id = fromB64url(json.user.id);
    (json.excludeCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
    return json;
  }

  function requestOptions(json) {
    json.challenge = fromB64url(json.challenge);
    (json.allowCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
    return json;
  }

  function serialise(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toB64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toB64url(response.attestationObject);
      if (response.getTransports) out.response.transports = response.getTransports();
    } else {
      out.response.authenticatorData = toB64url(response.authenticatorData);
      out.response.signature = toB64url(response.signature);
      if (response.userHandle) out.response.userHandle = toB64url(response.userHandle);
    }
    return out;
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error || "The passkey was not accepted.");
        return data;
      });
    });
  }

  function setup(root) {
    var button = root.querySelector("[data-passkey-start]");
    var status = root.querySelector("[data-passkey-status]");
    var nameInput = root.querySelector("[data-passkey-name]");
    var csrfInput = root.querySelector("input[name='csrfmiddlewaretoken']");
    var mode = root.getAttribute("data-passkey");
    if (!button || !csrfInput) return;
    if (!window.PublicKeyCredential || !navigator.credentials) {
      if (status) status.textContent = "This browser cannot use passkeys.";
      button.disabled = true;
      return;
    }
    root.hidden = false;
    button.addEventListener("click", function () {
      var csrf = csrfInput.value;
      if (status) status.textContent = "Follow your browser's prompt…";
      button.disabled = true;
      post(root.getAttribute("data-options-url"), csrf).then(function (options) {
        if (mode === "register") {
          return navigator.credentials.create({ publicKey: creationOptions(options) });
        }
        return navigator.credentials.get({ publicKey: requestOptions(options) });
      }).then(function (credential) {
        var body = { credential: serialise(credential) };
        if (nameInput) body.name = nameInput.value;
        return post(root.getAttribute("data-verify-url"), csrf, body);
      }).then(function (data) {
        if (status) status.textContent = "Done.";
        window.location.assign(data.redirect);
      }).catch(function (error) {
        button.disabled = false;
        if (status) {
          status.textContent = error && error.name === "NotAllowedError"
            ? "Cancelled, or the passkey was not allowed. Try again."
            : (error && error.message) || "Something went wrong. Try again.";
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-passkey]").forEach(setup);
  });
})();
