/*! Frontdesk widget module: the chime for a new agent message (loaded by widget.js the first time it plays).
 * widget.js makes the AudioContext at the visitor's first gesture, as browsers require. */
Frontdesk.define('sound', () => (audio) => {
  try {
    const t = audio.currentTime, tone = audio.createOscillator(), gain = audio.createGain();
    tone.frequency.setValueAtTime(880, t);
    tone.frequency.setValueAtTime(1320, t + 0.09);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.12, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
    tone.connect(gain);
    gain.connect(audio.destination);
    tone.start(t);
    tone.stop(t + 0.4);
  } catch (e) { /* no audio */ }
});
