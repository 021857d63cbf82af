// Verify a Quaygate webhook delivery (Node.js, built-in crypto only).
// `body` is the raw request body (a Buffer, exactly as received: not re-serialised JSON);
// `header` is the Quaygate-Signature header; `secret` is the endpoint's signing secret.
const crypto = require("node:crypto");

const TOLERANCE_SECONDS = 300; // reject deliveries signed more than 5 minutes away from now

function verifyQuaygateSignature(body, header, secret) {
  let timestamp = null;
  const signatures = [];
  for (const item of header.split(",")) {
    const [key, value] = item.trim().split("=", 2);
    if (key === "t" && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === "v1") signatures.push(value); // two during a secret rotation
  }
  if (timestamp === null || Math.abs(Date.now() / 1000 - timestamp) > TOLERANCE_SECONDS) {
    return false;
  }
  const expected = crypto
    .createHmac("sha256", secret)
    .update(Buffer.concat([Buffer.from(`${timestamp}.`), body]))
    .digest();
  return signatures.some((candidate) => {
    const given = Buffer.from(candidate, "hex");
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}

module.exports = { verifyQuaygateSignature };
