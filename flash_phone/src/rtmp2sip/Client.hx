package rtmp2sip;

import flash.events.AsyncErrorEvent;
import flash.events.IOErrorEvent;
import flash.events.NetStatusEvent;
import flash.events.SecurityErrorEvent;
import flash.net.NetConnection;
import flash.net.ObjectEncoding;
import flash.net.Responder;

/**
 * One NetConnection to an rtmp2sip gateway (README "RTMP API"): `connect` with the token as its
 * first argument, the gateway's methods by `invoke`, and its `Sono.*` events. The events arrive as
 * `onStatus` invokes on message stream 0, which the Flash Player turns into `netStatus` events of
 * the NetConnection; a `client.onStatus` handler covers players that call the client object
 * instead. Calls its `listeners` with (type, detail) as `Bridge` documents.
 */
class Client {
	/** Reported in `ready`. */
	public static inline var VERSION = "rtmp2sip-flash 1.0";

	/** Event listeners: (type, detail). */
	public var listeners:Array<String->Dynamic->Void> = [];

	/** Speex encodeQuality 0-10 for the next call's microphone. */
	public var quality:Int;

	var nc:NetConnection;
	var connectId:Int = -1;
	var media:Media;
	var muted:Bool = false;
	var lastInfo:Dynamic;

	public function new(quality:Int) {
		this.quality = quality;
	}

	/**
	 * Opens the NetConnection: `connect(cmdObj[, token])` to `url` (rtmp://, rtmps://, rtmpt://
	 * host[:port]/app). AMF0 (objectEncoding 0), as SEMS's client. The outcome is a `reply` for `id`.
	 */
	public function connect(id:Int, url:String, token:Dynamic) {
		disconnect();
		var c = new NetConnection();
		c.objectEncoding = ObjectEncoding.AMF0;
		c.client = {onStatus: onClientStatus};
		c.addEventListener(NetStatusEvent.NET_STATUS, onNetStatus);
		c.addEventListener(AsyncErrorEvent.ASYNC_ERROR, function(e:AsyncErrorEvent) {});
		c.addEventListener(IOErrorEvent.IO_ERROR, function(e:IOErrorEvent) fail("NetConnection.Connect.Failed", e.text));
		c.addEventListener(SecurityErrorEvent.SECURITY_ERROR, function(e:SecurityErrorEvent) fail("NetConnection.Connect.Failed", e.text));
		nc = c;
		connectId = id;
		try {
			if (token == null || token == "")
				c.connect(url);
			else
				c.connect(url, Std.string(token));
		} catch (e:Dynamic) {
			fail("NetConnection.Connect.Failed", Std.string(e));
		}
	}

	/** Closes the NetConnection (the gateway ends any call). */
	public function disconnect() {
		stopMedia();
		if (nc != null) {
			var c = nc;
			nc = null;
			c.removeEventListener(NetStatusEvent.NET_STATUS, onNetStatus);
			c.close();
		}
	}

	/**
	 * Invokes `method(null, ...args)` on the gateway; its `_result` or `_error` info comes back as
	 * a `reply` for `id`.
	 */
	public function invoke(id:Int, method:String, args:Array<Dynamic>) {
		if (nc == null || !nc.connected) {
			emit("reply", {id: id, ok: false, info: {level: "error", code: "NetConnection.Connect.Closed", description: "not connected"}});
			return;
		}
		var r = new Responder(function(info:Dynamic) emit("reply", {id: id, ok: true, info: info}),
			function(info:Dynamic) emit("reply", {id: id, ok: false, info: info}));
		nc.call(method, r, ...args);
	}

	/** Mutes or unmutes the microphone of the running and of later calls. */
	public function mute(m:Bool) {
		muted = m;
		if (media != null)
			media.mute(m);
	}

	/** The player's user interface places calls through this too. */
	public function dial(uri:String) {
		invoke(-1, "dial", [uri]);
	}

	function onNetStatus(e:NetStatusEvent) {
		var info:Dynamic = e.info;
		var code = Std.string(info.code);
		if (StringTools.startsWith(code, "Sono."))
			onSono(info);
		else if (StringTools.startsWith(code, "NetConnection.Connect.")) {
			if (connectId >= 0) {
				emit("reply", {id: connectId, ok: code == "NetConnection.Connect.Success", info: info});
				connectId = -1;
			}
			if (code != "NetConnection.Connect.Success")
				stopMedia();
			emit("connection", info);
		} else
			emit("connection", info);
	}

	function onClientStatus(info:Dynamic) {
		if (info != null && StringTools.startsWith(Std.string(info.code), "Sono."))
			onSono(info);
	}

	/** A `Sono.*` event: forwarded unchanged; `Sono.Call.Status` 4 (or 1 with early media) starts the media, 3 and 0 stop it. */
	function onSono(info:Dynamic) {
		if (info == lastInfo)
			return;
		lastInfo = info;
		if (info.code == "Sono.Call.Status") {
			var s:Int = Std.int(info.status_code);
			if (s == 4 || (s == 1 && info.early_media == true && info.play != null))
				startMedia(info);
			else if (s == 0 || s == 3)
				stopMedia();
		}
		emit("onStatus", info);
	}

	function startMedia(info:Dynamic) {
		if (media != null || nc == null)
			return;
		var pub:String = info.publish == null ? "dummy" : info.publish;
		var play:String = info.play == null ? "dummy" : info.play;
		media = new Media(nc, quality, emit);
		media.mute(muted);
		media.start(pub, play);
	}

	function stopMedia() {
		if (media == null)
			return;
		var m = media;
		media = null;
		m.stop();
	}

	function fail(code:String, text:String) {
		var info = {level: "error", code: code, description: text};
		if (connectId >= 0) {
			emit("reply", {id: connectId, ok: false, info: info});
			connectId = -1;
		}
		emit("connection", info);
	}

	function emit(type:String, detail:Dynamic) {
		for (l in listeners)
			l(type, detail);
	}
}
