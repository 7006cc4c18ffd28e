//! `fetch` from the page's global scope, for the remote JWKS.

use portcullis::jwt::JwksFetch;
use portcullis::LocalBoxFuture;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str) -> js_sys::Promise;
}

pub(crate) struct BrowserFetch;

impl JwksFetch for BrowserFetch {
    fn fetch<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let response = JsFuture::from(global_fetch(url)).await.map_err(|_| "network error".to_owned())?;
            let ok = js_sys::Reflect::get(&response, &"ok".into()).ok().and_then(|v| v.as_bool()).unwrap_or(false);
            if !ok {
                return Err("the JWKS endpoint answered with an error".into());
            }
            let text_fn: js_sys::Function = js_sys::Reflect::get(&response, &"text".into())
                .map_err(|_| "not a Response".to_owned())?
                .dyn_into()
                .map_err(|_| "not a Response".to_owned())?;
            let promise: js_sys::Promise = text_fn
                .call0(&response)
                .map_err(|_| "unreadable body".to_owned())?
                .dyn_into()
                .map_err(|_| "unreadable body".to_owned())?;
            let text = JsFuture::from(promise).await.map_err(|_| "unreadable body".to_owned())?;
            text.as_string().ok_or_else(|| "body is not text".to_owned())
        })
    }
}
