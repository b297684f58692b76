//! Colour strings as PIL's `ImageColor.getrgb` reads them (onnx-web's `fillColor`).

use image::{Rgb, Rgba};

use crate::error::ImageError;

/// Parses a colour as PIL's `ImageColor.getrgb`: `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`,
/// `rgb(r, g, b)`, `rgb(r%, g%, b%)`, `rgba(r, g, b, a)`, `hsl(h, s%, l%)`, `hsv(h, s%, v%)`
/// (or `hsb`), or a CSS colour name; case-insensitive. Alpha is 255 unless given.
pub fn parse_color(text: &str) -> Result<Rgba<u8>, ImageError> {
    let invalid = || ImageError::InvalidColor(text.to_string());
    let s = text.trim().to_ascii_lowercase();
    if let Some(hex) = s.strip_prefix('#') {
        let digits: Option<Vec<u8>> = hex
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect();
        let d = digits.ok_or_else(invalid)?;
        return match d.len() {
            3 | 4 => {
                let a = if d.len() == 4 { d[3] * 17 } else { 255 };
                Ok(Rgba([d[0] * 17, d[1] * 17, d[2] * 17, a]))
            }
            6 | 8 => {
                let byte = |i: usize| d[i] * 16 + d[i + 1];
                let a = if d.len() == 8 { byte(6) } else { 255 };
                Ok(Rgba([byte(0), byte(2), byte(4), a]))
            }
            _ => Err(invalid()),
        };
    }
    if let Some(open) = s.find('(') {
        let func = s[..open].trim();
        let inner = s[open + 1..].strip_suffix(')').ok_or_else(invalid)?;
        let args: Vec<&str> = inner.split(',').map(str::trim).collect();
        return functional(func, &args).ok_or_else(invalid);
    }
    named(&s)
        .map(|[r, g, b]| Rgba([r, g, b, 255]))
        .ok_or_else(invalid)
}

/// [`parse_color`] without the alpha channel (PIL drops it when filling an RGB image).
pub fn parse_rgb(text: &str) -> Result<Rgb<u8>, ImageError> {
    parse_color(text).map(|c| Rgb([c[0], c[1], c[2]]))
}

fn int(arg: &str) -> Option<u32> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    arg.parse().ok()
}

fn percent(arg: &str) -> Option<f64> {
    let num = arg.strip_suffix('%')?.trim_end();
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    num.parse().ok()
}

fn functional(func: &str, args: &[&str]) -> Option<Rgba<u8>> {
    let byte = |v: u32| Some(v.min(255) as u8);
    let unit = |v: f64| (v * 255.0 + 0.5) as u8;
    match (func, args) {
        ("rgb", [r, g, b]) => {
            if let (Some(r), Some(g), Some(b)) = (int(r), int(g), int(b)) {
                return Some(Rgba([byte(r)?, byte(g)?, byte(b)?, 255]));
            }
            let (r, g, b) = (percent(r)?, percent(g)?, percent(b)?);
            let p = |v: f64| ((v * 255.0) / 100.0 + 0.5).min(255.0) as u8;
            Some(Rgba([p(r), p(g), p(b), 255]))
        }
        ("rgba", [r, g, b, a]) => Some(Rgba([
            byte(int(r)?)?,
            byte(int(g)?)?,
            byte(int(b)?)?,
            byte(int(a)?)?,
        ])),
        ("hsl", [h, s, l]) => {
            let h = f64::from(int(h)?) / 360.0;
            let (s, l) = (percent(s)? / 100.0, percent(l)? / 100.0);
            let (r, g, b) = hls_to_rgb(h, l, s);
            Some(Rgba([unit(r), unit(g), unit(b), 255]))
        }
        ("hsv" | "hsb", [h, s, v]) => {
            let h = f64::from(int(h)?) / 360.0;
            let (s, v) = (percent(s)? / 100.0, percent(v)? / 100.0);
            let (r, g, b) = hsv_to_rgb(h, s, v);
            Some(Rgba([unit(r), unit(g), unit(b), 255]))
        }
        _ => None,
    }
}

/// Python's `colorsys.hls_to_rgb`.
fn hls_to_rgb(h: f64, l: f64, s: f64) -> (f64, f64, f64) {
    if s == 0.0 {
        return (l, l, l);
    }
    let m2 = if l <= 0.5 {
        l * (1.0 + s)
    } else {
        l + s - l * s
    };
    let m1 = 2.0 * l - m2;
    let v = |hue: f64| {
        let hue = hue.rem_euclid(1.0);
        if hue < 1.0 / 6.0 {
            m1 + (m2 - m1) * hue * 6.0
        } else if hue < 0.5 {
            m2
        } else if hue < 2.0 / 3.0 {
            m1 + (m2 - m1) * (2.0 / 3.0 - hue) * 6.0
        } else {
            m1
        }
    };
    (v(h + 1.0 / 3.0), v(h), v(h - 1.0 / 3.0))
}

/// Python's `colorsys.hsv_to_rgb`.
fn hsv_to_rgb(h: f64, s: f64, v: f64) -> (f64, f64, f64) {
    if s == 0.0 {
        return (v, v, v);
    }
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match (i as i64).rem_euclid(6) {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

/// PIL's `ImageColor.colormap` (the CSS colour names).
fn named(name: &str) -> Option<[u8; 3]> {
    const COLORS: &[(&str, u32)] = &[
        ("aliceblue", 0xf0f8ff),
        ("antiquewhite", 0xfaebd7),
        ("aqua", 0x00ffff),
        ("aquamarine", 0x7fffd4),
        ("azure", 0xf0ffff),
        ("beige", 0xf5f5dc),
        ("bisque", 0xffe4c4),
        ("black", 0x000000),
        ("blanchedalmond", 0xffebcd),
        ("blue", 0x0000ff),
        ("blueviolet", 0x8a2be2),
        ("brown", 0xa52a2a),
        ("burlywood", 0xdeb887),
        ("cadetblue", 0x5f9ea0),
        ("chartreuse", 0x7fff00),
        ("chocolate", 0xd2691e),
        ("coral", 0xff7f50),
        ("cornflowerblue", 0x6495ed),
        ("cornsilk", 0xfff8dc),
        ("crimson", 0xdc143c),
        ("cyan", 0x00ffff),
        ("darkblue", 0x00008b),
        ("darkcyan", 0x008b8b),
        ("darkgoldenrod", 0xb8860b),
        ("darkgray", 0xa9a9a9),
        ("darkgrey", 0xa9a9a9),
        ("darkgreen", 0x006400),
        ("darkkhaki", 0xbdb76b),
        ("darkmagenta", 0x8b008b),
        ("darkolivegreen", 0x556b2f),
        ("darkorange", 0xff8c00),
        ("darkorchid", 0x9932cc),
        ("darkred", 0x8b0000),
        ("darksalmon", 0xe9967a),
        ("darkseagreen", 0x8fbc8f),
        ("darkslateblue", 0x483d8b),
        ("darkslategray", 0x2f4f4f),
        ("darkslategrey", 0x2f4f4f),
        ("darkturquoise", 0x00ced1),
        ("darkviolet", 0x9400d3),
        ("deeppink", 0xff1493),
        ("deepskyblue", 0x00bfff),
        ("dimgray", 0x696969),
        ("dimgrey", 0x696969),
        ("dodgerblue", 0x1e90ff),
        ("firebrick", 0xb22222),
        ("floralwhite", 0xfffaf0),
        ("forestgreen", 0x228b22),
        ("fuchsia", 0xff00ff),
        ("gainsboro", 0xdcdcdc),
        ("ghostwhite", 0xf8f8ff),
        ("gold", 0xffd700),
        ("goldenrod", 0xdaa520),
        ("gray", 0x808080),
        ("grey", 0x808080),
        ("green", 0x008000),
        ("greenyellow", 0xadff2f),
        ("honeydew", 0xf0fff0),
        ("hotpink", 0xff69b4),
        ("indianred", 0xcd5c5c),
        ("indigo", 0x4b0082),
        ("ivory", 0xfffff0),
        ("khaki", 0xf0e68c),
        ("lavender", 0xe6e6fa),
        ("lavenderblush", 0xfff0f5),
        ("lawngreen", 0x7cfc00),
        ("lemonchiffon", 0xfffacd),
        ("lightblue", 0xadd8e6),
        ("lightcoral", 0xf08080),
        ("lightcyan", 0xe0ffff),
        ("lightgoldenrodyellow", 0xfafad2),
        ("lightgreen", 0x90ee90),
        ("lightgray", 0xd3d3d3),
        ("lightgrey", 0xd3d3d3),
        ("lightpink", 0xffb6c1),
        ("lightsalmon", 0xffa07a),
        ("lightseagreen", 0x20b2aa),
        ("lightskyblue", 0x87cefa),
        ("lightslategray", 0x778899),
        ("lightslategrey", 0x778899),
        ("lightsteelblue", 0xb0c4de),
        ("lightyellow", 0xffffe0),
        ("lime", 0x00ff00),
        ("limegreen", 0x32cd32),
        ("linen", 0xfaf0e6),
        ("magenta", 0xff00ff),
        ("maroon", 0x800000),
        ("mediumaquamarine", 0x66cdaa),
        ("mediumblue", 0x0000cd),
        ("mediumorchid", 0xba55d3),
        ("mediumpurple", 0x9370db),
        ("mediumseagreen", 0x3cb371),
        ("mediumslateblue", 0x7b68ee),
        ("mediumspringgreen", 0x00fa9a),
        ("mediumturquoise", 0x48d1cc),
        ("mediumvioletred", 0xc71585),
        ("midnightblue", 0x191970),
        ("mintcream", 0xf5fffa),
        ("mistyrose", 0xffe4e1),
        ("moccasin", 0xffe4b5),
        ("navajowhite", 0xffdead),
        ("navy", 0x000080),
        ("oldlace", 0xfdf5e6),
        ("olive", 0x808000),
        ("olivedrab", 0x6b8e23),
        ("orange", 0xffa500),
        ("orangered", 0xff4500),
        ("orchid", 0xda70d6),
        ("palegoldenrod", 0xeee8aa),
        ("palegreen", 0x98fb98),
        ("paleturquoise", 0xafeeee),
        ("palevioletred", 0xdb7093),
        ("papayawhip", 0xffefd5),
        ("peachpuff", 0xffdab9),
        ("peru", 0xcd853f),
        ("pink", 0xffc0cb),
        ("plum", 0xdda0dd),
        ("powderblue", 0xb0e0e6),
        ("purple", 0x800080),
        ("rebeccapurple", 0x663399),
        ("red", 0xff0000),
        ("rosybrown", 0xbc8f8f),
        ("royalblue", 0x4169e1),
        ("saddlebrown", 0x8b4513),
        ("salmon", 0xfa8072),
        ("sandybrown", 0xf4a460),
        ("seagreen", 0x2e8b57),
        ("seashell", 0xfff5ee),
        ("sienna", 0xa0522d),
        ("silver", 0xc0c0c0),
        ("skyblue", 0x87ceeb),
        ("slateblue", 0x6a5acd),
        ("slategray", 0x708090),
        ("slategrey", 0x708090),
        ("snow", 0xfffafa),
        ("springgreen", 0x00ff7f),
        ("steelblue", 0x4682b4),
        ("tan", 0xd2b48c),
        ("teal", 0x008080),
        ("thistle", 0xd8bfd8),
        ("tomato", 0xff6347),
        ("turquoise", 0x40e0d0),
        ("violet", 0xee82ee),
        ("wheat", 0xf5deb3),
        ("white", 0xffffff),
        ("whitesmoke", 0xf5f5f5),
        ("yellow", 0xffff00),
        ("yellowgreen", 0x9acd32),
    ];
    COLORS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, v)| [(v >> 16) as u8, (v >> 8) as u8, v as u8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgba(s: &str) -> [u8; 4] {
        parse_color(s).unwrap().0
    }

    #[test]
    fn hex_forms() {
        assert_eq!(rgba("#000000"), [0, 0, 0, 255]);
        assert_eq!(rgba("#fff"), [255, 255, 255, 255]);
        assert_eq!(rgba("#F0a"), [255, 0, 170, 255]);
        assert_eq!(rgba("#12345678"), [0x12, 0x34, 0x56, 0x78]);
        assert_eq!(rgba("#1234"), [0x11, 0x22, 0x33, 0x44]);
        for bad in ["#", "#12", "#12345", "#gggggg", "#1234567"] {
            assert!(parse_color(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_functions() {
        assert_eq!(rgba("white"), [255, 255, 255, 255]);
        assert_eq!(rgba("Black"), [0, 0, 0, 255]);
        assert_eq!(rgba("  cornflowerblue "), [0x64, 0x95, 0xed, 255]);
        assert_eq!(rgba("grey"), [128, 128, 128, 255]);
        assert_eq!(rgba("rgb(1, 2,3)"), [1, 2, 3, 255]);
        assert_eq!(rgba("rgb(100%, 50%, 0%)"), [255, 128, 0, 255]);
        assert_eq!(rgba("rgba(1,2,3,4)"), [1, 2, 3, 4]);
        assert_eq!(rgba("hsl(0, 100%, 50%)"), [255, 0, 0, 255]);
        assert_eq!(rgba("hsl(120, 100%, 25%)"), [0, 128, 0, 255]);
        assert_eq!(rgba("hsv(240, 100%, 100%)"), [0, 0, 255, 255]);
        assert_eq!(rgba("hsb(0, 0%, 50%)"), [128, 128, 128, 255]);
        assert_eq!(parse_rgb("red").unwrap().0, [255, 0, 0]);
        for bad in [
            "",
            "nocolour",
            "rgb(1,2)",
            "rgb(a,b,c)",
            "hsl(1,2,3)",
            "rgb(1,2,3",
        ] {
            let err = parse_color(bad).unwrap_err();
            assert!(matches!(err, ImageError::InvalidColor(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn every_name_is_found() {
        for name in [
            "aliceblue",
            "yellowgreen",
            "darkgrey",
            "rebeccapurple",
            "white",
        ] {
            assert!(named(name).is_some(), "{name}");
        }
    }
}
