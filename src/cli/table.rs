//! Plain-text tables of the status API's answers, like `kamctl` or
//! `fs_cli` print them (pure: JSON in, text out).

use serde_json::Value;

/// Columns padded to their widest cell, separated by two spaces; the
/// header row in capitals.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `12.3` s as `0:00:12`.
fn duration(v: &Value) -> String {
    let s = v.as_f64().unwrap_or(0.0).max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The `calls` table.
pub fn calls(calls: &[Value]) -> String {
    let rows: Vec<Vec<String>> = calls
        .iter()
        .map(|c| {
            let rtp = &c["rtp"];
            let who = match (c["rtmp"]["subject"].as_str(), c["rtmp"]["app"].as_str()) {
                (Some(s), _) => s.to_string(),
                (None, Some(a)) => format!("app={a}"),
                _ => "-".into(),
            };
            vec![
                text(&c["call_id"]),
                text(&c["direction"]),
                text(&c["state"]),
                who,
                text(&c["sip"]["to"]),
                format!(
                    "{}/{}",
                    text(&c["codecs"]["sip"]),
                    text(&c["codecs"]["rtmp_out"])
                ),
                duration(&c["duration_s"]),
                if rtp.is_null() {
                    "-".into()
                } else {
                    format!(
                        "{}/{}",
                        text(&rtp["packets_received"]),
                        text(&rtp["packets_sent"])
                    )
                },
                rtp["loss_percent"]
                    .as_f64()
                    .map_or("-".into(), |l| format!("{l:.1}%")),
                rtp["jitter_ms"]
                    .as_f64()
                    .map_or("-".into(), |j| format!("{j:.1}ms")),
            ]
        })
        .collect();
    render(
        &[
            "CALL-ID", "DIR", "STATE", "CLIENT", "SIP-TO", "CODECS", "TIME", "RX/TX", "LOSS",
            "JITTER",
        ],
        &rows,
    )
}

/// The `connections` table.
pub fn connections(conns: &[Value]) -> String {
    let rows: Vec<Vec<String>> = conns
        .iter()
        .map(|c| {
            vec![
                text(&c["id"]),
                text(&c["transport"]),
                text(&c["remote"]),
                text(&c["app"]),
                text(&c["subject"]),
                text(&c["since"]),
                text(&c["call_id"]),
            ]
        })
        .collect();
    render(
        &[
            "ID",
            "TRANSPORT",
            "REMOTE",
            "APP",
            "SUBJECT",
            "SINCE",
            "CALL-ID",
        ],
        &rows,
    )
}

/// The `registrations` table.
pub fn registrations(regs: &[Value]) -> String {
    let rows: Vec<Vec<String>> = regs
        .iter()
        .map(|r| {
            vec![
                text(&r["aor"]),
                text(&r["connection"]),
                text(&r["state"]),
                text(&r["expires_s"]),
                match (r["code"].as_u64(), r["reason"].as_str()) {
                    (Some(c), Some(why)) => format!("{c} {why}"),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    render(&["AOR", "CONN", "STATE", "EXPIRES", "LAST-ERROR"], &rows)
}

/// The gateway summary of `status`.
pub fn summary(s: &Value) -> String {
    format!(
        "rtmp2sip {}  up {}  (since {})  ready: {}\n\
         calls: {}/{}  connections: {}  registrations: {}  cdr dropped: {}\n",
        text(&s["version"]),
        duration(&s["uptime_s"]),
        text(&s["started"]),
        text(&s["ready"]),
        text(&s["calls"]),
        text(&s["max_calls"]),
        text(&s["connections"]),
        text(&s["registrations"]),
        text(&s["cdr_dropped"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calls_table_lines_up() {
        let c: Value = serde_json::json!({
            "call_id": "abc@gw", "direction": "outbound", "state": "connected",
            "rtmp": {"app": "phone", "subject": null},
            "sip": {"from": "sip:gw@h", "to": "sip:bob@pbx"},
            "codecs": {"sip": "PCMU/8000", "rtmp_out": "speex"},
            "duration_s": 75.2,
            "rtp": {"packets_received": 10, "packets_sent": 12, "loss_percent": 0.5, "jitter_ms": 2.25}
        });
        let t = calls(&[c]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("CALL-ID  DIR"), "{t}");
        assert!(lines[1].contains("abc@gw"), "{t}");
        assert!(lines[1].contains("PCMU/8000/speex"), "{t}");
        assert!(lines[1].contains("0:01:15"), "{t}");
        assert!(
            lines[1].contains("10/12") && lines[1].contains("0.5%"),
            "{t}"
        );
        assert_eq!(
            lines[0].find("DIR"),
            lines[1].find("outbound"),
            "columns line up: {t}"
        );
    }

    #[test]
    fn empty_tables_have_their_header() {
        assert_eq!(connections(&[]).lines().count(), 1);
        assert!(registrations(&[]).starts_with("AOR"));
    }
}
