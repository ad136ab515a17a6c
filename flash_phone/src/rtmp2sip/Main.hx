package rtmp2sip;

import flash.Lib;
import flash.display.StageAlign;
import flash.display.StageScaleMode;

/**
 * Entry point of phone.swf. Flashvars (all optional):
 * - `callback`: name of the page's JavaScript function that receives every event as
 *   `callback(type, detail)` (the SDK's Flash transport sets it); see `Bridge`.
 * - `ui`: "0" hides the phone UI (the SDK embeds the SWF at 1x1 with ui=0); default: shown
 *   unless `callback` is set.
 * - `url`: rtmp://, rtmps:// or rtmpt:// address of the gateway (the visible UI connects to it).
 * - `token`: the `[auth]` token, passed as the first `connect` argument after the command object.
 * - `quality`: Speex `encodeQuality` 0-10 (default 8, the gateway's `speex_quality`).
 * - `to`: address pre-filled in the UI.
 */
class Main {
	static var client:Client;
	static var bridge:Bridge;
	static var ui:Ui;

	static function main() {
		var stage = Lib.current.stage;
		stage.scaleMode = StageScaleMode.NO_SCALE;
		stage.align = StageAlign.TOP_LEFT;
		var vars:Dynamic = Lib.current.loaderInfo.parameters;
		var callback = str(vars, "callback");
		var quality = Std.parseInt(str(vars, "quality"));
		client = new Client(quality == null ? 8 : quality);
		bridge = new Bridge(client, callback);
		var showUi = str(vars, "ui") == null ? callback == null : str(vars, "ui") != "0";
		if (showUi) {
			ui = new Ui(client, str(vars, "url"), str(vars, "token"), str(vars, "to"));
			Lib.current.addChild(ui);
		}
		client.listeners.push(function(type:String, detail:Dynamic) {
			bridge.emit(type, detail);
			if (ui != null)
				ui.onEvent(type, detail);
		});
		bridge.start();
	}

	static function str(vars:Dynamic, key:String):Null<String> {
		var v:Dynamic = Reflect.field(vars, key);
		return v == null || v == "" ? null : Std.string(v);
	}
}
