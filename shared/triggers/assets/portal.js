// The portal's only script: copy buttons, the certificate file read into its text box, and the order's
// progress (the page reloads itself while the phone-number order runs). Everything works without it.
"use strict";
document.querySelectorAll("[data-copies]").forEach((button) => {
  button.addEventListener("click", async () => {
    const id = button.getAttribute("data-copies");
    const text = document.getElementById(id).textContent;
    const said = document.querySelector(`[data-copied="${id}"]`);
    try {
      await navigator.clipboard.writeText(text);
      said.textContent = "Copied.";
    } catch (error) {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById(id));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      said.textContent = "Selected: press Ctrl+C (or Cmd+C) to copy.";
    }
  });
});
document.querySelectorAll("input[type=file][data-fills]").forEach((input) => {
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      const bytes = new Uint8Array(reader.result);
      const text = new TextDecoder().decode(bytes);
      // A .cer is Base64 text (maybe PEM-armoured) or DER bytes: the box gets Base64 either way.
      const armoured = text.match(/-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/);
      const base64 = /^[A-Za-z0-9+/=\s]+$/.test(text) ? text : null;
      document.getElementById(input.getAttribute("data-fills")).value = armoured
        ? armoured[1].replace(/\s+/g, "")
        : base64 ? base64.replace(/\s+/g, "") : btoa(String.fromCharCode(...bytes));
    };
    reader.readAsArrayBuffer(file);
  });
});
const progress = document.getElementById("progress");
if (progress) {
  window.setTimeout(() => window.location.reload(), 2000);
}
