//! `co_yield!(value)`: gives a value out of a generator.
//!
//! A `#[coroutine(yield = T)]` function rewrites every `co_yield!(v)` written in its body (also
//! inside closures and other macros' arguments) into a call on the generator's yielder, so a
//! `co_yield!` that reaches its own expansion was written outside any generator: that is the
//! compile error this file emits. The rewrite lives here too: parse the arguments, validate them
//! against the yield type, expand to `__private::co_yield(yielder, value)`.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::quote_spanned;
use syn::punctuated::Punctuated;
use syn::{Expr, Token, Type};

use crate::options::call_site_ident;

/// The name of the generator's yielder inside the closure a generator expands to.
pub(crate) const YIELDER: &str = "__coro_yielder";

/// The expansion of a `co_yield!` that no generator rewrote: a compile error.
///
/// The input is not looked at: whatever it holds, the call is in the wrong place.
pub(crate) fn expand(_input: TokenStream) -> Result<TokenStream, (syn::Error, TokenStream)> {
    Err((
        syn::Error::new(
            Span::call_site(),
            "`co_yield!` can only be used in the body of a `#[coroutine(yield = T)]` function: mark the enclosing function `#[coroutine(yield = T)]`, or write `co_yield!` directly in such a body (not through another macro)",
        ),
        quote_spanned!(Span::call_site()=> ()),
    ))
}

/// Rewrites every `co_yield!(..)` in `body` into a yield on the generator's yielder.
///
/// `unit_yield` is true when the yield type is `()`, so that `co_yield!()` means `co_yield!(())`.
/// Errors (no value, several values) are collected and the offending call replaced by `()`.
pub(crate) fn rewrite(
    body: TokenStream,
    yield_ty: &Type,
    krate: &TokenStream,
    errors: &mut Vec<syn::Error>,
) -> TokenStream {
    let unit_yield = matches!(yield_ty, Type::Tuple(t) if t.elems.is_empty());
    rewrite_stream(body, unit_yield, krate, errors)
}

fn rewrite_stream(
    body: TokenStream,
    unit_yield: bool,
    krate: &TokenStream,
    errors: &mut Vec<syn::Error>,
) -> TokenStream {
    let tokens: Vec<TokenTree> = body.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let (TokenTree::Ident(ident), Some(TokenTree::Punct(bang)), Some(TokenTree::Group(args))) =
            (&tokens[i], tokens.get(i + 1), tokens.get(i + 2))
            && ident == "co_yield"
            && bang.as_char() == '!'
        {
            strip_macro_path(&mut out);
            let args = rewrite_stream(args.stream(), unit_yield, krate, errors);
            out.push(TokenTree::Group(Group::new(
                Delimiter::Brace,
                yield_call(ident.span(), args, unit_yield, krate, errors),
            )));
            i += 3;
            continue;
        }
        match &tokens[i] {
            TokenTree::Group(group) => {
                let mut new = Group::new(
                    group.delimiter(),
                    rewrite_stream(group.stream(), unit_yield, krate, errors),
                );
                new.set_span(group.span());
                out.push(TokenTree::Group(new));
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// Removes the path in front of `co_yield` (`coro::`, `::coro::`, `$crate::`) from `out`.
fn strip_macro_path(out: &mut Vec<TokenTree>) {
    loop {
        let n = out.len();
        let ends_with_colons = n >= 2
            && matches!((&out[n - 2], &out[n - 1]),
                (TokenTree::Punct(a), TokenTree::Punct(b)) if a.as_char() == ':' && b.as_char() == ':');
        if !ends_with_colons {
            return;
        }
        out.truncate(n - 2);
        if matches!(out.last(), Some(TokenTree::Ident(_))) {
            out.pop();
        } else {
            return;
        }
    }
}

fn yield_call(
    span: Span,
    args: TokenStream,
    unit_yield: bool,
    krate: &TokenStream,
    errors: &mut Vec<syn::Error>,
) -> TokenStream {
    let yielder = call_site_ident(YIELDER);
    let parsed = syn::parse::Parser::parse2(
        Punctuated::<Expr, Token![,]>::parse_terminated,
        args.clone(),
    );
    let value = match parsed {
        Ok(values) if values.is_empty() && unit_yield => quote_spanned!(span=> ()),
        Ok(values) if values.is_empty() => {
            errors.push(syn::Error::new(
                span,
                "`co_yield!` needs the value to give out: write `co_yield!(value)`",
            ));
            return quote_spanned!(span=> ());
        }
        Ok(values) if values.len() > 1 => {
            errors.push(syn::Error::new_spanned(
                &values[1],
                "`co_yield!` gives out one value: to give out several, yield a tuple `co_yield!((a, b))` or call `co_yield!` once for each",
            ));
            return quote_spanned!(span=> ());
        }
        Ok(_) => args,
        Err(e) => {
            errors.push(e);
            return quote_spanned!(span=> ());
        }
    };
    quote_spanned!(span=> #krate::__private::co_yield(#yielder, #value);)
}
