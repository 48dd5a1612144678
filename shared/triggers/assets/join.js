// The join token travels in the link's fragment, which browsers never send to a server (so no request log
// or telemetry holds it); this page hands it over in a POST body. It keeps the token in the tab's
// sessionStorage, not in any URL: a "please wait" answer refreshes itself to this page without the fragment,
// and the meeting's address must not inherit it (browsers carry a fragment across redirects).
(function () {
  var form = document.getElementById("join");
  var token = decodeURIComponent(window.location.hash.slice(1));
  if (token) {
    sessionStorage.setItem("joinToken", token);
    history.replaceState(null, "", window.location.pathname);
  } else {
    token = sessionStorage.getItem("joinToken") || "";
  }
  if (!token) {
    document.getElementById("status").textContent = "This link is incomplete. Open the whole link from your text message.";
    return;
  }
  form.elements.token.value = token;
  form.submit();
})();
