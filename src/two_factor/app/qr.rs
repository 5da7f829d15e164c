//! QR codes rendered on the server as inline SVG (no external service, no
//! image files): the `otpauth://` URI an authenticator app scans.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An `<svg>` element for `data`, or None when it does not fit a QR code.
pub fn svg(data: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_svg_element() {
        let s = super::svg("otpauth://totp/Storefront:a%40b?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert!(s.contains("<svg") && s.contains("</svg>"));
    }
}
