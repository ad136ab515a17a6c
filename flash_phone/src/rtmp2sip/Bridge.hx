package rtmp2sip;

import flash.external.ExternalInterface;

/**
 * The SWF's JavaScript surface (the SDK's Flash transport, `Phone({transport: 'flash'})`, drives it).
 *
 * Only pages of the SWF's own domain can call it: it never calls `Security.allowDomain` (the Flash
 * Player remembers microphone permission per SWF domain; other sites must not drive this one).
 *
 * JavaScript -> SWF, by `ExternalInterface.addCallback` on the embedding `<object>` element. Every
 * request takes a request id (a Number chosen by the page) first; its outcome comes back as a
 * `reply` event with that id:
 *   connect(id, url, token, app)       NetConnection.connect(url[, token]); token null: no argument;
 *                                      app is informational (the URL's path names the application)
 *   disconnect()                       NetConnection.close()
 *   dial(id, uri)                      invoke dial (no reply on success: `onStatus` events follow)
 *   hangup(id) accept(id) unregister(id) hold(id) unhold(id)
 *   register(id[, user, registrar, password, authUser, displayName])   no user: the embedded registrar
 *   reject(id[, code])                 code null: the gateway's 603
 *   sendDTMF(id, digits[, durationMs])
 *   transfer(id, uri)
 *   mute(muted)                        stops/starts sending the microphone
 *   setQuality(q)                      Speex encodeQuality 0-10 for the next call
 *
 * SWF -> JavaScript, by `ExternalInterface.call(callback, type, detail)`:
 *   ready        {version}                      once the callbacks above exist
 *   reply        {id, ok, info}                 the `_result` / `_error` info of request id
 *   connection   the NetConnection netStatus info (NetConnection.Connect.Success / Rejected / Failed / Closed)
 *   onStatus     a `Sono.*` info object from the gateway (README "RTMP API"), unchanged
 *   stream       {stream: "publish"|"play", info}  NetStream netStatus
 *   media        {state: "started"|"stopped", publish, play}
 *   microphone   {code: "Microphone.Muted"|"Microphone.Unmuted"|"Microphone.Missing", name}
 *
 * Strings crossing ExternalInterface are not escaped by the Flash Player (a backslash breaks the
 * generated JavaScript): `escape` doubles backslashes in every string it sends.
 */
class Bridge {
	var client:Client;
	var callback:Null<String>;

	public function new(client:Client, callback:Null<String>) {
		this.client = client;
		this.callback = callback;
	}

	/** Adds the callbacks and says `ready`; does nothing without a JavaScript container. */
	public function start() {
		if (!ExternalInterface.available || callback == null)
			return;
		var c = client;
		ExternalInterface.addCallback("connect", function(id:Int, url:String, token:Dynamic, app:Dynamic) c.connect(id, url, token));
		ExternalInterface.addCallback("disconnect", function() c.disconnect());
		ExternalInterface.addCallback("dial", function(id:Int, uri:String) c.invoke(id, "dial", [uri]));
		ExternalInterface.addCallback("hangup", function(id:Int) c.invoke(id, "hangup", []));
		ExternalInterface.addCallback("register", function(id:Int, user:Dynamic, registrar:Dynamic, password:Dynamic, authUser:Dynamic,
				displayName:Dynamic) c.invoke(id, "register", registerArgs(user, registrar, password, authUser, displayName)));
		ExternalInterface.addCallback("unregister", function(id:Int) c.invoke(id, "unregister", []));
		ExternalInterface.addCallback("accept", function(id:Int) c.invoke(id, "accept", []));
		ExternalInterface.addCallback("reject", function(id:Int, code:Dynamic) c.invoke(id, "reject", code == null ? [] : [code]));
		ExternalInterface.addCallback("sendDTMF",
			function(id:Int, digits:String, ms:Dynamic) c.invoke(id, "sendDTMF", ms == null ? [digits] : [digits, ms]));
		ExternalInterface.addCallback("hold", function(id:Int) c.invoke(id, "hold", []));
		ExternalInterface.addCallback("unhold", function(id:Int) c.invoke(id, "unhold", []));
		ExternalInterface.addCallback("transfer", function(id:Int, uri:String) c.invoke(id, "transfer", [uri]));
		ExternalInterface.addCallback("mute", function(muted:Bool) c.mute(muted));
		ExternalInterface.addCallback("setQuality", function(q:Int) c.quality = q);
		emit("ready", {version: Client.VERSION});
	}

	/** `register()` (embedded registrar) without a user; else user, registrar, password[, authUser, displayName]. */
	public static function registerArgs(user:Dynamic, registrar:Dynamic, password:Dynamic, authUser:Dynamic, displayName:Dynamic):Array<Dynamic> {
		if (user == null || user == "")
			return [];
		var a:Array<Dynamic> = [user, registrar, password];
		if (authUser != null || displayName != null)
			a = a.concat([authUser == null ? "" : authUser, displayName == null ? "" : displayName]);
		return a;
	}

	/** Sends one event to the page: `callback(type, detail)`. */
	public function emit(type:String, detail:Dynamic) {
		if (!ExternalInterface.available || callback == null)
			return;
		try {
			ExternalInterface.call(callback, type, escape(detail, 0));
		} catch (e:Dynamic) {}
	}

	/** A copy of `v` whose strings have their backslashes doubled (objects and arrays to depth 8). */
	public static function escape(v:Dynamic, depth:Int):Dynamic {
		if (Std.isOfType(v, String))
			return StringTools.replace(v, "\\", "\\\\");
		if (v == null || depth > 8 || Std.isOfType(v, Float) || Std.isOfType(v, Bool))
			return v;
		if (Std.isOfType(v, Array)) {
			var a:Array<Dynamic> = v;
			return [for (x in a) escape(x, depth + 1)];
		}
		var o:Dynamic = {};
		for (k in Reflect.fields(v))
			Reflect.setField(o, escape(k, depth), escape(Reflect.field(v, k), depth + 1));
		return o;
	}
}
