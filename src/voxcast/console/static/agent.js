// The agent workspace's browser phone: the microphone and the call's audio over WebRTC to
// voxcast itself (no trickle ICE: the offer goes once its candidates are gathered); the panel
// (status, the offered call, the buttons) is htmx's.
(function () {
  "use strict";
  var root = document.getElementById("workspace");
  var line = document.getElementById("phone-state");
  var speaker = document.getElementById("remote-audio");
  // the page's phone, for the console's own browser tests and for debugging in the devtools
  var phone = (window.voxcastPhone = { pc: null, remote: null });

  function say(text, state) {
    line.textContent = text;
    line.dataset.state = state;
  }

  function gathered(pc) {
    return new Promise(function (resolve) {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", function () {
        if (pc.iceGatheringState === "complete") resolve();
      });
      setTimeout(resolve, 5000); // whatever was gathered by then
    });
  }

  function preferPcmu(transceiver) {
    if (!transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
    var codecs = RTCRtpReceiver.getCapabilities("audio").codecs;
    var pcmu = codecs.filter(function (c) { return c.mimeType.toLowerCase() === "audio/pcmu"; });
    var rest = codecs.filter(function (c) { return c.mimeType.toLowerCase() !== "audio/pcmu"; });
    transceiver.setCodecPreferences(pcmu.concat(rest));
  }

  async function start() {
    // agents wear headsets: the browser's own processing (echo cancelling, noise suppression,
    // gain control) would only alter what the callee hears
    var mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      video: false,
    });
    var pc = new RTCPeerConnection({ iceServers: [] });
    phone.pc = pc;
    mic.getAudioTracks().forEach(function (track) { pc.addTrack(track, mic); });
    pc.getTransceivers().forEach(preferPcmu);
    pc.ontrack = function (event) {
      var stream = event.streams[0] || new MediaStream([event.track]);
      phone.remote = stream;
      speaker.srcObject = stream;
    };
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === "connected") say("Browser phone ready.", "ready");
      else if (pc.connectionState === "failed" || pc.connectionState === "closed")
        say("Browser phone disconnected: reload the page.", "failed");
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    var response = await fetch(root.dataset.offerUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
      body: JSON.stringify({ sdp: pc.localDescription.sdp }),
    });
    if (!response.ok) throw new Error("the server refused the phone (" + response.status + ")");
    await pc.setRemoteDescription(await response.json());
    say("Connecting the browser phone...", "connecting");
  }

  start().catch(function (err) { say("Browser phone failed: " + err.message, "failed"); });
})();
