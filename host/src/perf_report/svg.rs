//! The report as a plot: per-layer measured cycles against the ideal on a log axis, as a
//! hand-written standalone SVG document ([`svg`]).

use std::fmt::Write as _;

use super::LayerRow;

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Axis label: 200k, 5M, ...
fn axis_label(v: f64) -> String {
    if v >= 1e9 {
        format!("{}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

/// Per-layer measured cycles (bars) vs the ideal (nonzero MACs / lanes, a tick per layer) on a
/// log axis, as a standalone SVG document.
pub fn svg(title: &str, rows: &[LayerRow]) -> String {
    let (left, right, top, bottom) = (70.0, 20.0, 60.0, 150.0);
    let slot = 30.0;
    let plot_w = slot * rows.len().max(1) as f64;
    let plot_h = 320.0;
    let (w, h) = (left + plot_w + right, top + plot_h + bottom);
    let positive = rows
        .iter()
        .flat_map(|r| [r.cycles as f64, r.ideal_cycles])
        .filter(|&v| v > 0.0);
    let lo = positive.clone().fold(f64::INFINITY, f64::min);
    let hi = positive.fold(0.0, f64::max);
    // log10 range: from the decade below the smallest value to just above the largest.
    let (a_lo, a_hi) = if hi > 0.0 {
        let l = lo.log10().floor();
        (l, (hi.log10() + 0.1).max(l + 1.0))
    } else {
        (0.0, 1.0)
    };
    let y = |v: f64| -> f64 {
        let l = if v > 0.0 { v.log10() } else { a_lo };
        let f = ((l - a_lo) / (a_hi - a_lo)).clamp(0.0, 1.0);
        top + plot_h * (1.0 - f)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="11">
<rect x="0" y="0" width="{w:.0}" height="{h:.0}" fill="white"/>
<text x="{:.1}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        w / 2.0,
        xml_escape(title)
    );
    // Grid lines and labels at 1, 2 and 5 x 10^e.
    for e in a_lo as i32..=a_hi.floor() as i32 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(e);
            if v.log10() > a_hi + 1e-9 {
                continue;
            }
            let yy = y(v);
            let shade = if m == 1.0 { "#bbbbbb" } else { "#e4e4e4" };
            let _ = writeln!(
                s,
                r#"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{shade}"/>
<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                left + plot_w,
                left - 6.0,
                yy + 4.0,
                axis_label(v)
            );
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">cycles per image (log)</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    for (i, r) in rows.iter().enumerate() {
        let x0 = left + slot * i as f64;
        let yb = y(r.cycles as f64);
        let yi = y(r.ideal_cycles);
        let name = xml_escape(r.layer);
        let _ = writeln!(
            s,
            r##"<rect class="measured" x="{:.1}" y="{yb:.1}" width="{:.1}" height="{:.1}" fill="#4a7ab5"><title>{name}: {} cycles measured, {:.0} ideal</title></rect>
<line class="ideal" x1="{:.1}" y1="{yi:.1}" x2="{:.1}" y2="{yi:.1}" stroke="#e07b00" stroke-width="3"/>
<text x="{:.1}" y="{:.1}" transform="rotate(-60 {:.1} {:.1})" text-anchor="end">{name}</text>"##,
            x0 + 5.0,
            slot - 10.0,
            top + plot_h - yb,
            r.cycles,
            r.ideal_cycles,
            x0 + 2.0,
            x0 + slot - 2.0,
            x0 + slot / 2.0,
            top + plot_h + 12.0,
            x0 + slot / 2.0,
            top + plot_h + 12.0
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="black"/>
<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>
<rect x="{:.1}" y="34" width="12" height="12" fill="#4a7ab5"/>
<text x="{:.1}" y="44">measured (busy cycles)</text>
<line x1="{:.1}" y1="40" x2="{:.1}" y2="40" stroke="#e07b00" stroke-width="3"/>
<text x="{:.1}" y="44">ideal (nonzero MACs / lanes)</text>
</svg>"##,
        top + plot_h,
        top + plot_h,
        left + plot_w,
        top + plot_h,
        left,
        left + 16.0,
        left + 170.0,
        left + 184.0,
        left + 190.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::super::test_util::perf;
    use super::super::JobModel;
    use super::*;

    /// A small well-formedness check: tags nest and close, attributes are quoted, `&` starts an
    /// entity; returns the element names in document order.
    fn xml_elements(doc: &str) -> Result<Vec<String>, String> {
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = doc;
        let mut roots = 0;
        while let Some(i) = rest.find(['<', '&']) {
            if stack.is_empty() && !rest[..i].trim().is_empty() {
                return Err(format!("text outside the root: {:?}", &rest[..i]));
            }
            rest = &rest[i..];
            if rest.starts_with('&') {
                let end = rest.find(';').ok_or("unterminated entity")?;
                if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&&rest[..=end]) {
                    return Err(format!("bad entity {}", &rest[..=end]));
                }
                rest = &rest[end + 1..];
                continue;
            }
            if rest.starts_with("<?") {
                rest = &rest[rest.find("?>").ok_or("unterminated <?")? + 2..];
                continue;
            }
            // Find the tag's end outside quotes.
            let mut quote = None;
            let mut end = None;
            for (j, c) in rest.char_indices().skip(1) {
                match (quote, c) {
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (None, '<') => return Err("'<' inside a tag".into()),
                    (None, '>') => {
                        end = Some(j);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or("unterminated tag")?;
            let tag = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body
                .split_whitespace()
                .next()
                .ok_or("empty tag")?
                .to_string();
            // Attributes: name="value" pairs.
            let mut attrs = body[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs
                    .find('=')
                    .ok_or(format!("attribute without value in <{name}>"))?;
                let after = attrs[eq + 1..].trim_start();
                let q = after.chars().next().ok_or("missing value")?;
                if q != '"' && q != '\'' {
                    return Err(format!("unquoted attribute in <{name}>"));
                }
                let close = after[1..].find(q).ok_or("unterminated value")?;
                attrs = after[close + 2..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            names.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        if !stack.is_empty() || roots != 1 {
            return Err(format!("unclosed {stack:?} or {roots} roots"));
        }
        Ok(names)
    }

    #[test]
    fn svg_is_well_formed_with_one_bar_per_layer() {
        let m = JobModel::from_channels(16, 4, 50, &[(5, 1), (2, 0), (7, 2)]);
        let names = ["conv1", "fire2/squeeze1x1", "a&b<c>", "zero"];
        let rows: Vec<LayerRow> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let busy = if i == 3 { 0 } else { 10u64.pow(i as u32 + 3) };
                LayerRow::new(n, 1000, &m, &perf(busy, 0, 0), 16)
            })
            .collect();
        let doc = svg("sqz tiny <test>", &rows);
        let elements = xml_elements(&doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
        assert_eq!(elements[0], "svg");
        assert_eq!(doc.matches(r#"<rect class="measured""#).count(), 4);
        assert_eq!(doc.matches(r#"<line class="ideal""#).count(), 4);
        assert!(doc.contains("a&amp;b&lt;c&gt;") && doc.contains("fire2/squeeze1x1"));
        assert!(doc.contains("measured (busy cycles)") && doc.contains("ideal (nonzero MACs"));
        // Decades from 10 (ideal 34) to 100k (the largest bar) are labelled.
        assert!(doc.contains(">10<") && doc.contains(">100k<"), "{doc}");
        assert!(!doc.contains(">1M<"), "{doc}");
        // The checker itself rejects broken documents.
        assert!(xml_elements("<svg><g></svg>").is_err());
        assert!(xml_elements("<svg a=1/>").is_err());
        assert!(xml_elements("<svg>a & b</svg>").is_err());
    }
}
