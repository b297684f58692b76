//! Region prompts of the panorama pipelines (`<region:TOP:LEFT:BOTTOM:RIGHT:WEIGHT:FEATHER:PROMPT>`,
//! §5.6): what the denoising loop needs to guide a window of the latents with its own prompt.

use onnx_web_diffusion::prompt_parser::parse_prompt;
use onnx_web_diffusion::text_encoder::Embeddings;
use onnx_web_diffusion::unet::ExtraInput;

use crate::denoise::View;
use crate::error::Result;

/// Weights from this one up replace what the views made in the region instead of mixing in.
pub const REGION_REPLACE_WEIGHT: f32 = 100.0;

/// A `<region:…>` prompt of the panorama pipelines (§5.6): at every step but the last, the
/// region's latents are denoised with its own prompt and mixed into the views' average with
/// `weight × mask`.
pub struct RegionGuide {
    pub view: View,
    /// In the layout of [`Guidance::embeddings`].
    pub embeddings: Embeddings,
    pub weight: f32,
    /// `view.height × view.width`: 1 inside, linear ramps at the feathered edges.
    pub mask: Vec<f32>,
    /// The UNet's extra inputs for the region's prompt (SDXL's pooled `text_embeds`); empty:
    /// those of the views.
    pub extra: Vec<ExtraInput>,
}

/// onnx-web's region mask (`make_tile_mask`): 1 inside, falling linearly to 0 over
/// `feather × size` at each chosen edge (top, left, bottom, right); separable in x and y.
pub fn feather_mask(height: usize, width: usize, feather: f32, edges: [bool; 4]) -> Vec<f32> {
    let ramp = |size: usize, start: bool, end: bool| -> Vec<f32> {
        let span = feather.clamp(0.0, 0.5) * size as f32;
        (0..size)
            .map(|i| {
                let i = i as f32;
                let mut value: f32 = 1.0;
                if span > 0.0 && start {
                    value = value.min(i / span);
                }
                if span > 0.0 && end {
                    value = value.min((size as f32 - i) / span);
                }
                value.clamp(0.0, 1.0)
            })
            .collect()
    };
    let [top, left, bottom, right] = edges;
    let ys = ramp(height, top, bottom);
    let xs = ramp(width, left, right);
    ys.iter()
        .flat_map(|&y| xs.iter().map(move |&x| x * y))
        .collect()
}

/// The `<region:…>` tokens of `prompt` as guides over `latent_h × latent_w` latents: each
/// clipped to the latents (skipped when nothing is left), its prompt (with the base prompt
/// appended after a `+`) encoded by `encode` into embeddings and extra UNet inputs.
pub fn region_guides(
    prompt: &str,
    latent_h: usize,
    latent_w: usize,
    mut encode: impl FnMut(&str) -> Result<(Embeddings, Vec<ExtraInput>)>,
) -> Result<Vec<RegionGuide>> {
    let parsed = parse_prompt(prompt);
    let base = parsed.text.trim();
    let mut guides = Vec::new();
    for region in &parsed.regions {
        let (top, left) = (region.top as usize / 8, region.left as usize / 8);
        let bottom = (region.bottom as usize / 8).min(latent_h);
        let right = (region.right as usize / 8).min(latent_w);
        if bottom <= top || right <= left {
            tracing::warn!(?region, "region outside the image; skipped");
            continue;
        }
        let view = View {
            top,
            left,
            height: bottom - top,
            width: right - left,
        };
        let prompt = if region.append_base {
            format!("{} {base}", region.prompt)
        } else {
            region.prompt.clone()
        };
        let (embeddings, extra) = encode(&prompt)?;
        guides.push(RegionGuide {
            view,
            embeddings,
            weight: region.weight,
            mask: feather_mask(
                view.height,
                view.width,
                region.feather,
                region.feather_edges,
            ),
            extra,
        });
    }
    Ok(guides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feather_masks_ramp_only_at_the_chosen_edges() {
        assert!(feather_mask(4, 6, 0.0, [true; 4]).iter().all(|&m| m == 1.0));
        let mask = feather_mask(1, 8, 0.25, [false, true, false, false]);
        assert_eq!(mask, vec![0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        let mask = feather_mask(8, 1, 0.25, [false, false, true, false]);
        assert_eq!(mask, vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]);
    }
}
