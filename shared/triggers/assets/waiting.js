// Counts down to the time the visit opens, then goes back to the join page, which posts the token kept in
// this tab's sessionStorage (never in a URL) and so opens the meeting.
(function () {
  var line = document.getElementById("countdown");
  var opens = Date.parse(line.getAttribute("data-opens"));
  function tick() {
    var left = Math.max(0, Math.round((opens - Date.now()) / 1000));
    if (left === 0) {
      window.location.replace("/api/join");
      return;
    }
    var hours = Math.floor(left / 3600), minutes = Math.floor((left % 3600) / 60), seconds = left % 60;
    var parts = (hours ? hours + " h " : "") + (hours || minutes ? minutes + " min " : "") + seconds + " s";
    line.textContent = "The visit opens in " + parts + ".";
    setTimeout(tick, 1000);
  }
  tick();
})();
