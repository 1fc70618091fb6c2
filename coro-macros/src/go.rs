//! `go!`: spawn an inline coroutine (libco's co_closure lambdas) and get its `JoinHandle<T>`.
//!
//! Three forms: `go! { stmts }`, `go!(move || expr)`, and either body after options,
//! `go!(stack_size = 16384, name = "worker", unsafe(shared); { stmts })` or, with a builder,
//! `go!(builder = coro::Builder::new().stack_size(1 << 20); move || expr)`. Statements are
//! captured by move, as in a `move` closure.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Block, Expr, ExprBlock, Stmt, Token};

use crate::options::{Accepts, Opt, Options};

const ACCEPTS: Accepts = Accepts {
    name: "`go!`",
    keys: &["stack_size", "shared", "name", "builder", "crate"],
};

const KNOWN: &[&str] = &["stack_size", "shared", "name", "builder", "crate"];

/// The body of the coroutine to spawn.
enum Body {
    /// A closure the user wrote, spawned as it is.
    Closure(Expr),
    /// Statements, run by a `move` closure.
    Stmts(Vec<Stmt>),
    /// A block, the body of a `move` closure as it is.
    Block(ExprBlock),
}

/// Parses, validates and expands `go!(..)`.
pub(crate) fn expand(input: TokenStream) -> Result<TokenStream, (syn::Error, TokenStream)> {
    let fallback = quote!(());
    let (options, body) = parse(input).map_err(|e| (e, fallback.clone()))?;
    let krate = options.krate();
    let closure = match body {
        Body::Closure(expr) => expr.into_token_stream(),
        Body::Stmts(stmts) => quote!(move || { #(#stmts)* }),
        Body::Block(block) => quote!(move || #block),
    };
    Ok(options.spawn_call(&krate, closure))
}

fn parse(input: TokenStream) -> syn::Result<(Options, Body)> {
    let tokens: Vec<TokenTree> = input.clone().into_iter().collect();
    let semi = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'));
    if let Some(semi) = semi {
        let prefix: TokenStream = tokens[..semi].iter().cloned().collect();
        let suffix: TokenStream = tokens[semi + 1..].iter().cloned().collect();
        if let Some(list) = option_list(prefix) {
            let looks_like_options = list
                .iter()
                .any(|o| KNOWN.contains(&o.key.to_string().as_str()));
            if suffix.is_empty() && looks_like_options {
                return Err(syn::Error::new_spanned(
                    &tokens[semi],
                    "`go!` needs a body after its options: write `go!(unsafe(shared); { .. })` or `go!(stack_size = N; move || ..)`",
                ));
            }
            if let Ok(expr) = syn::parse2::<Expr>(suffix.clone())
                && matches!(expr, Expr::Block(_) | Expr::Closure(_) | Expr::Async(_))
            {
                let options = Options::from_list(list, &ACCEPTS)?;
                return Ok((options, single(expr)?));
            }
            let all_options = list
                .iter()
                .all(|o| KNOWN.contains(&o.key.to_string().as_str()));
            if all_options {
                return Err(syn::Error::new_spanned(
                    suffix,
                    "after its options `go!` takes one block or closure: write `go!(unsafe(shared); { .. })` or `go!(stack_size = N; move || ..)`",
                ));
            }
        }
    } else if let Some(list) = option_list(input.clone())
        && list
            .first()
            .is_some_and(|o| KNOWN.contains(&o.key.to_string().as_str()))
        && (list.len() > 1 || list[0].value.is_some())
    {
        return Err(syn::Error::new_spanned(
            &list[0].key,
            "`go!` options are followed by `;` and the body: write `go!(stack_size = 16384; { .. })`",
        ));
    }
    if let Ok(expr) = syn::parse2::<Expr>(input.clone())
        && matches!(expr, Expr::Block(_) | Expr::Closure(_) | Expr::Async(_))
    {
        return Ok((Options::default(), single(expr)?));
    }
    let stmts = Parser::parse2(Block::parse_within, input)?;
    Ok((Options::default(), Body::Stmts(stmts)))
}

/// Parses `prefix` as an option list, or `None` when it is not one.
fn option_list(prefix: TokenStream) -> Option<Vec<Opt>> {
    if prefix.is_empty() {
        return None;
    }
    let list = Parser::parse2(
        |input: ParseStream<'_>| Punctuated::<Opt, Token![,]>::parse_terminated(input),
        prefix,
    )
    .ok()?;
    Some(list.into_iter().collect())
}

/// Checks a lone block or closure.
fn single(expr: Expr) -> syn::Result<Body> {
    match expr {
        Expr::Async(block) => Err(syn::Error::new_spanned(
            block.async_token,
            "`go!` runs blocking-style code, not futures: remove `async`",
        )),
        Expr::Closure(closure) => {
            if let Some(token) = &closure.asyncness {
                return Err(syn::Error::new_spanned(
                    token,
                    "`go!` runs blocking-style code, not futures: remove `async`",
                ));
            }
            if !closure.inputs.is_empty() {
                return Err(syn::Error::new_spanned(
                    &closure.inputs,
                    "the closure given to `go!` takes no arguments: write `go!(move || ..)` and capture what it needs",
                ));
            }
            Ok(Body::Closure(Expr::Closure(closure)))
        }
        Expr::Block(block) => Ok(Body::Block(block)),
        other => Ok(Body::Stmts(vec![Stmt::Expr(other, None)])),
    }
}
