//! Plain mistral.rs 0.8.1 from crates.io, as a user of the crate would call it: load a LLaVA
//! folder on CPU at F32, ask one greedy question about an image, and print the time to the
//! first token in milliseconds. vchat's benchmark runs it beside vchat's own engine.
//!
//! Usage: plain-mistralrs MODEL_DIR IMAGE PROMPT MAX_TOKENS RUNS

use std::time::Instant;

use mistralrs::{
    ModelDType, MultimodalMessages, MultimodalModelBuilder, RequestBuilder, Response,
    TextMessageRole, TokenSource,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model_dir, image, prompt, max_tokens, runs] = &args[..] else {
        return Err("usage: plain-mistralrs MODEL_DIR IMAGE PROMPT MAX_TOKENS RUNS".into());
    };
    let max_tokens: usize = max_tokens.parse()?;
    let runs: usize = runs.parse()?;
    let image = image::open(image)?;
    let model = MultimodalModelBuilder::new(model_dir)
        .with_force_cpu()
        .with_dtype(ModelDType::F32)
        .with_token_source(TokenSource::None)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    for run in 0..runs {
        // A different question each run: nothing can be reused from an earlier one.
        let messages = MultimodalMessages::new().add_image_message(
            TextMessageRole::User,
            format!("{prompt} ({run})"),
            vec![image.clone()],
        );
        let request = RequestBuilder::from(messages).set_sampler_max_len(max_tokens);
        let started = Instant::now();
        let mut stream = model.stream_chat_request(request).await?;
        let mut first = None;
        while let Some(response) = stream.next().await {
            if let Response::Chunk(chunk) = response {
                if first.is_none() && chunk.choices.iter().any(|c| c.delta.content.is_some()) {
                    first = Some(started.elapsed());
                }
            }
        }
        let first = first.ok_or("no answer")?;
        println!("{:.3}", first.as_secs_f64() * 1000.0);
    }
    Ok(())
}
