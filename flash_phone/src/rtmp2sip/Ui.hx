package rtmp2sip;

import flash.display.Sprite;
import flash.events.KeyboardEvent;
import flash.events.MouseEvent;
import flash.text.TextField;
import flash.text.TextFieldType;
import flash.text.TextFormat;

/**
 * The visible phone (when the SWF is opened on its own, or embedded with flashvar ui=1), as SEMS's
 * test client had: the gateway's address, the SIP address to call, Call / Hang up / Answer / Mute,
 * and a status line. It connects to `url` at start and places calls with `dial`.
 */
class Ui extends Sprite {
	var client:Client;
	var server:TextField;
	var address:TextField;
	var status:TextField;
	var muteLabel:TextField;
	var muted:Bool = false;
	var token:Null<String>;
	var connected:Bool = false;

	public function new(client:Client, url:Null<String>, token:Null<String>, to:Null<String>) {
		super();
		this.client = client;
		this.token = token;
		server = field(8, 8, 304, url == null ? "rtmp://localhost/phone" : url, true);
		address = field(8, 36, 304, to == null ? "sip:echo@127.0.0.1" : to, true);
		address.addEventListener(KeyboardEvent.KEY_DOWN, function(e:KeyboardEvent) if (e.keyCode == 13) call());
		button(8, 66, "Call", call);
		button(84, 66, "Hang up", function() client.invoke(-1, "hangup", []));
		button(160, 66, "Answer", function() client.invoke(-1, "accept", []));
		muteLabel = button(236, 66, "Mute", toggleMute);
		status = field(8, 100, 304, "idle", false);
		status.height = 60;
		status.multiline = true;
		status.wordWrap = true;
	}

	/** Connects first when needed, then dials the address. */
	function call() {
		if (connected)
			client.dial(address.text);
		else {
			pendingDial = true;
			client.connect(-1, server.text, token);
			setStatus("connecting to " + server.text);
		}
	}

	var pendingDial:Bool = false;

	function toggleMute() {
		muted = !muted;
		client.mute(muted);
		muteLabel.text = muted ? "Unmute" : "Mute";
	}

	/** Shows the events the client reports. */
	public function onEvent(type:String, d:Dynamic) {
		switch (type) {
			case "connection":
				connected = d.code == "NetConnection.Connect.Success";
				setStatus(Std.string(d.code) + (d.description != null ? ": " + Std.string(d.description) : ""));
				if (connected && pendingDial)
					client.dial(address.text);
				pendingDial = false;
			case "onStatus":
				if (d.code == "Sono.Call.Status")
					setStatus(["idle", "calling", "connected", "hanging up", "in call"][Std.int(d.status_code)] + (d.reason != null ? " (" + Std.string(d.reason) + ")" : ""));
				else if (d.code == "Sono.Call.Incoming")
					setStatus("incoming call from " + Std.string(d.uri) + ": Answer?");
				else if (d.code == "Sono.Call.DTMF")
					setStatus("DTMF " + Std.string(d.digit));
			case "reply":
				if (d.ok != true && d.info != null)
					setStatus(Std.string(d.info.code) + ": " + Std.string(d.info.description));
			case "microphone":
				setStatus(Std.string(d.code));
		}
	}

	function setStatus(s:String) {
		status.text = s;
	}

	function field(x:Float, y:Float, w:Float, text:String, input:Bool):TextField {
		var t = new TextField();
		t.defaultTextFormat = new TextFormat("_sans", 13, 0x222222);
		t.x = x;
		t.y = y;
		t.width = w;
		t.height = 22;
		t.text = text;
		if (input) {
			t.type = TextFieldType.INPUT;
			t.border = true;
			t.background = true;
			t.backgroundColor = 0xffffff;
		}
		addChild(t);
		return t;
	}

	function button(x:Float, y:Float, label:String, action:Void->Void):TextField {
		var b = new Sprite();
		b.graphics.beginFill(0x2b6cb0);
		b.graphics.drawRoundRect(0, 0, 72, 26, 8, 8);
		b.graphics.endFill();
		b.x = x;
		b.y = y;
		b.buttonMode = true;
		b.mouseChildren = false;
		var t = new TextField();
		t.defaultTextFormat = new TextFormat("_sans", 13, 0xffffff, true, null, null, null, null, flash.text.TextFormatAlign.CENTER);
		t.width = 72;
		t.height = 22;
		t.y = 3;
		t.text = label;
		b.addChild(t);
		b.addEventListener(MouseEvent.CLICK, function(e:MouseEvent) action());
		addChild(b);
		return t;
	}
}
