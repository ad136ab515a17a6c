package rtmp2sip;

import flash.events.NetStatusEvent;
import flash.events.StatusEvent;
import flash.media.Microphone;
import flash.media.MicrophoneEnhancedMode;
import flash.media.MicrophoneEnhancedOptions;
import flash.media.SoundCodec;
import flash.net.NetConnection;
import flash.net.NetStream;

/**
 * A call's media (README "RTMP API", status 4): one NetStream publishing the microphone to the
 * status's `publish` name ("live") and one playing its `play` name with no buffering. The
 * microphone: Speex (`SoundCodec.SPEEX`, 16 kHz), one 20 ms frame per message
 * (`framesPerPacket = 1`, 20 ms of latency less than Flash's default 2), `encodeQuality` 0-10,
 * no silence suppression (`setSilenceLevel(0)`: the far end hears comfort noise, never gaps, and
 * the gateway's RTP timing stays regular), and the enhanced microphone (acoustic echo
 * cancellation, Flash Player 10.3+) in full duplex where the runtime has it.
 */
class Media {
	var nc:NetConnection;
	var quality:Int;
	var emit:String->Dynamic->Void;
	var pub:NetStream;
	var player:NetStream;
	var mic:Microphone;
	var muted:Bool = false;
	var names:Dynamic;

	public function new(nc:NetConnection, quality:Int, emit:String->Dynamic->Void) {
		this.nc = nc;
		this.quality = quality < 0 ? 0 : (quality > 10 ? 10 : quality);
		this.emit = emit;
	}

	public function start(publishName:String, playName:String) {
		names = {publish: publishName, play: playName};
		player = new NetStream(nc);
		player.bufferTime = 0;
		player.addEventListener(NetStatusEvent.NET_STATUS, function(e:NetStatusEvent) emit("stream", {stream: "play", info: e.info}));
		player.play(playName);
		pub = new NetStream(nc);
		pub.addEventListener(NetStatusEvent.NET_STATUS, function(e:NetStatusEvent) emit("stream", {stream: "publish", info: e.info}));
		mic = microphone();
		if (mic == null)
			emit("microphone", {code: "Microphone.Missing", name: ""});
		else {
			mic.addEventListener(StatusEvent.STATUS, function(e:StatusEvent) emit("microphone", {code: e.code, name: mic.name}));
			if (mic.muted)
				emit("microphone", {code: "Microphone.Muted", name: mic.name});
			if (!muted)
				pub.attachAudio(mic);
		}
		pub.publish(publishName, "live");
		emit("media", {state: "started", publish: publishName, play: playName});
	}

	public function stop() {
		if (pub != null) {
			pub.attachAudio(null);
			pub.close();
		}
		if (player != null)
			player.close();
		pub = null;
		player = null;
		emit("media", {state: "stopped", publish: names.publish, play: names.play});
	}

	/** Muting detaches the microphone from the published stream. */
	public function mute(m:Bool) {
		muted = m;
		if (pub != null && mic != null)
			pub.attachAudio(m ? null : mic);
	}

	/** The enhanced microphone (full duplex echo cancellation) if the runtime has one, else the plain one; Speex, 1 frame per packet. */
	function microphone():Microphone {
		var m:Microphone = null;
		try {
			m = Microphone.getEnhancedMicrophone();
			if (m != null) {
				var o = new MicrophoneEnhancedOptions();
				o.mode = MicrophoneEnhancedMode.FULL_DUPLEX;
				o.autoGain = false;
				o.nonLinearProcessing = true;
				m.enhancedOptions = o;
			}
		} catch (e:Dynamic) {
			m = null;
		}
		if (m == null)
			m = Microphone.getMicrophone();
		if (m == null)
			return null;
		m.codec = SoundCodec.SPEEX;
		m.framesPerPacket = 1;
		m.encodeQuality = quality;
		m.setSilenceLevel(0);
		m.setUseEchoSuppression(true);
		return m;
	}
}
