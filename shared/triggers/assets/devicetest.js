// Device test: camera, microphone (with a level meter), connection, speaker; then post the result.
(function () {
  "use strict";
  var root = document.getElementById("devicetest");
  var ctx = root.getAttribute("data-ctx");
  var PING_ROUNDS = 5;
  var SAMPLE_BYTES = 256 * 1024;
  var result = {};

  function $(id) { return document.getElementById(id); }
  function show(id) { $(id).hidden = false; }
  function say(id, text) { $(id).textContent = text; }

  function classify(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return "denied";
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") return "unavailable";
    return "failed";
  }

  var WORDS = { ok: "working", denied: "not allowed", unavailable: "not found", failed: "not working" };

  function testDevice(kind, constraints) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.resolve({ status: "unavailable" });
    }
    return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      var live = stream.getTracks().some(function (t) { return t.readyState === "live"; });
      return { status: live ? "ok" : "failed", stream: stream };
    }, function (error) { return { status: classify(error) }; });
  }

  function meter(stream) {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    var audio = new Context();
    var analyser = audio.createAnalyser();
    analyser.fftSize = 512;
    audio.createMediaStreamSource(stream).connect(analyser);
    var samples = new Uint8Array(analyser.fftSize);
    (function draw() {
      analyser.getByteTimeDomainData(samples);
      var peak = 0;
      for (var i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i] - 128) / 128);
      $("level").value = peak;
      requestAnimationFrame(draw);
    })();
  }

  function media() {
    show("media");
    return testDevice("camera", { video: true }).then(function (camera) {
      result.camera = camera.status;
      say("camera-status", WORDS[camera.status]);
      if (camera.stream) $("preview").srcObject = camera.stream;
      return testDevice("microphone", { audio: true });
    }).then(function (microphone) {
      result.microphone = microphone.status;
      say("microphone-status", WORDS[microphone.status]);
      if (microphone.stream) meter(microphone.stream);
      if (result.camera === "denied" || result.microphone === "denied") show("media-help");
    });
  }

  function timed(request) {
    var started = performance.now();
    return request().then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.arrayBuffer();
    }).then(function () { return performance.now() - started; });
  }

  function ping(method, bytes) {
    var headers = { "X-Context-Token": ctx };
    if (method === "POST") {
      return timed(function () {
        return fetch("devicetest/ping", { method: "POST", headers: headers, body: new Uint8Array(bytes), cache: "no-store" });
      });
    }
    return timed(function () {
      return fetch("devicetest/ping?bytes=" + bytes, { headers: headers, cache: "no-store" });
    });
  }

  function kbps(bytes, ms) { return (bytes * 8) / Math.max(ms, 1); }  // bits per millisecond = kbit/s

  function connection() {
    show("connection");
    var rounds = [];
    var chain = Promise.resolve();
    for (var i = 0; i < PING_ROUNDS; i++) {
      chain = chain.then(function () { return ping("GET", 0); }).then(function (ms) { rounds.push(ms); });
    }
    return chain.then(function () {
      rounds.sort(function (a, b) { return a - b; });
      result.round_trip_ms = rounds[Math.floor(rounds.length / 2)];
      return ping("GET", SAMPLE_BYTES);
    }).then(function (ms) {
      result.download_kbps = kbps(SAMPLE_BYTES, ms);
      return ping("POST", SAMPLE_BYTES);
    }).then(function (ms) {
      result.upload_kbps = kbps(SAMPLE_BYTES, ms);
      say("connection-status", "Round trip " + Math.round(result.round_trip_ms) + " ms, download " +
        Math.round(result.download_kbps) + " kbit/s, upload " + Math.round(result.upload_kbps) + " kbit/s.");
    }, function () {
      result.round_trip_ms = result.round_trip_ms || 0;
      result.download_kbps = result.download_kbps || 0;
      result.upload_kbps = result.upload_kbps || 0;
      say("connection-status", "We could not reach the service reliably.");
    });
  }

  function speaker() {
    show("speaker");
    return new Promise(function (resolve) {
      $("speaker-play").addEventListener("click", function () {
        var Context = window.AudioContext || window.webkitAudioContext;
        if (Context) {
          var audio = new Context();
          var tone = audio.createOscillator();
          tone.frequency.value = 440;
          tone.connect(audio.destination);
          tone.start();
          tone.stop(audio.currentTime + 1);
        }
        show("speaker-question");
      });
      $("speaker-yes").addEventListener("click", function () { resolve("ok"); });
      $("speaker-no").addEventListener("click", function () { resolve("not_heard"); });
    }).then(function (status) { result.speaker = status; $("speaker-question").hidden = true; });
  }

  var ADVICE = {
    camera: "Camera: allow it in the browser's site settings, or close other apps that use it.",
    microphone: "Microphone: allow it in the browser's site settings, or check that it is plugged in.",
    speaker: "Speaker: turn the volume up or connect headphones, then run the test again.",
    connection: "Connection: move closer to your Wi-Fi router or use a wired or mobile connection."
  };

  function report(verdict) {
    show("outcome");
    say("result", verdict.passed ? "Your device is ready for your visit." : "Your device is not ready yet.");
    var problems = $("problems");
    problems.textContent = "";
    ["camera", "microphone", "speaker"].forEach(function (part) {
      if (verdict[part] !== "ok") addProblem(problems, ADVICE[part]);
    });
    if (!verdict.connection_ok) addProblem(problems, ADVICE.connection);
  }

  function addProblem(list, text) {
    var item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
  }

  function submit() {
    return fetch("devicetest/result", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Context-Token": ctx },
      body: JSON.stringify(result)
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(report, function () {
      show("outcome");
      say("result", "We could not save the result. Please try again.");
    });
  }

  $("start").addEventListener("click", function () {
    $("start").disabled = true;
    media().then(connection).then(speaker).then(submit);
  });
})();
