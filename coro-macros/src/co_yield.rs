//! `co_yield!(value)`: gives a value out of a generator.
//!
//! A `#[coro::coroutine(yield = T)]` function marks every `co_yield!(..)` written in its body (also
//! inside closures and inside other macros' arguments) by putting the generator's yielder, the
//! kind of its yield type and the `coro` path in front of the arguments:
//! `co_yield!(@generator(__coro_yielder, false, ::coro) value)`. The call keeps its path, so the
//! user's `use coro::co_yield;` stays used and a nested generator re-marks (innermost wins). A
//! `co_yield!` that arrives here without the mark was written outside any generator: that is a
//! compile error. With the mark: parse the arguments, validate them against the yield type,
//! expand to `__private::co_yield(yielder, value)`.

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, LitBool, Path, Token, Type};

use crate::options::call_site_ident;

/// The name of the generator's yielder inside the closure a generator expands to.
pub(crate) const YIELDER: &str = "__coro_yielder";

/// The word after `@` that marks a `co_yield!` rewritten by a generator.
const MARK: &str = "generator";

/// The word after `@` that marks a `co_yield!` in a generator whose attribute failed: the call
/// expands to its value, unused, so the attribute's error is the only one.
const SILENT: &str = "silenced";

/// What a generator's mark tells `co_yield!`.
struct Mark {
    yielder: Ident,
    unit_yield: bool,
    krate: Path,
}

/// Expands `co_yield!(..)`: a yield when a generator marked it, else a compile error.
pub(crate) fn expand(input: TokenStream) -> Result<TokenStream, (syn::Error, TokenStream)> {
    let fallback = quote!(());
    if let Some(args) = silenced(&input) {
        return Ok(if args.is_empty() {
            fallback
        } else {
            quote!({ let _ = (#args); })
        });
    }
    let (mark, args) = split_mark(input);
    let Some(mark) = mark else {
        return Err((
            syn::Error::new(
                Span::call_site(),
                "`co_yield!` can only be used in the body of a `#[coro::coroutine(yield = T)]` function, not in a function that body calls or in code another macro generates: make this function a generator with `#[coro::coroutine(yield = T)]`, or, to give values out from a helper, make the generator with `coro::Generator::new(|y| ..)` and pass the helper `y`, which calls `y.suspend(value)`",
            ),
            fallback,
        ));
    };
    let mark = Parser::parse2(parse_mark, mark).map_err(|e| (e, fallback.clone()))?;
    let values = Parser::parse2(Punctuated::<Expr, Token![,]>::parse_terminated, args)
        .map_err(|e| (e, fallback.clone()))?;
    let value = match values.len() {
        0 if mark.unit_yield => quote!(()),
        0 => {
            return Err((
                syn::Error::new(
                    Span::call_site(),
                    "`co_yield!` needs the value to give out: write `co_yield!(value)`",
                ),
                fallback,
            ));
        }
        1 => {
            let value = &values[0];
            quote!(#value)
        }
        _ => {
            return Err((
                syn::Error::new_spanned(
                    &values[1],
                    "`co_yield!` gives out one value: to give out several, yield a tuple `co_yield!((a, b))` or call `co_yield!` once for each",
                ),
                fallback,
            ));
        }
    };
    let Mark { yielder, krate, .. } = mark;
    Ok(quote!({ #krate::__private::co_yield(#yielder, #value); }))
}

/// Splits a generator's mark (the group after `@generator`) from the user's arguments.
fn split_mark(input: TokenStream) -> (Option<TokenStream>, TokenStream) {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    match tokens.as_slice() {
        [
            TokenTree::Punct(at),
            TokenTree::Ident(word),
            TokenTree::Group(mark),
            rest @ ..,
        ] if at.as_char() == '@' && word == MARK && mark.delimiter() == Delimiter::Parenthesis => {
            (Some(mark.stream()), rest.iter().cloned().collect())
        }
        _ => (None, tokens.into_iter().collect()),
    }
}

/// The user's arguments of a silenced call, or `None` for any other call.
fn silenced(input: &TokenStream) -> Option<TokenStream> {
    let mut tokens = input.clone().into_iter();
    match (tokens.next(), tokens.next()) {
        (Some(TokenTree::Punct(at)), Some(TokenTree::Ident(word)))
            if at.as_char() == '@' && word == SILENT =>
        {
            Some(tokens.collect())
        }
        _ => None,
    }
}

/// Marks every `co_yield!` in `item` silenced: the fallback of a generator whose attribute
/// failed.
pub(crate) fn silence(item: TokenStream) -> TokenStream {
    let mark = Group::new(Delimiter::Parenthesis, TokenStream::new());
    mark_stream(item, &mark, SILENT)
}

fn parse_mark(input: ParseStream<'_>) -> syn::Result<Mark> {
    let yielder: Ident = input.parse()?;
    input.parse::<Token![,]>()?;
    let unit: LitBool = input.parse()?;
    input.parse::<Token![,]>()?;
    let krate: Path = input.parse()?;
    Ok(Mark {
        yielder,
        unit_yield: unit.value,
        krate,
    })
}

/// Marks every `co_yield!(..)` in `body` with this generator's yielder (see the module docs).
pub(crate) fn rewrite(body: TokenStream, yield_ty: &Type, krate: &TokenStream) -> TokenStream {
    let unit_yield = matches!(yield_ty, Type::Tuple(t) if t.elems.is_empty());
    let yielder = call_site_ident(YIELDER);
    let mark = Group::new(
        Delimiter::Parenthesis,
        quote!(#yielder, #unit_yield, #krate),
    );
    mark_stream(body, &mark, MARK)
}

/// Puts `@word mark` (or just `@word` when `word` is [`SILENT`]) in front of the arguments of
/// every `co_yield!` in `body`, replacing an earlier mark.
fn mark_stream(body: TokenStream, mark: &Group, word: &str) -> TokenStream {
    let tokens: Vec<TokenTree> = body.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let (TokenTree::Ident(ident), Some(TokenTree::Punct(bang)), Some(TokenTree::Group(args))) =
            (&tokens[i], tokens.get(i + 1), tokens.get(i + 2))
            && ident == "co_yield"
            && bang.as_char() == '!'
        {
            // A nested generator's body was marked by the outer one first: the innermost wins.
            let stream = args.stream();
            let user_args = silenced(&stream).unwrap_or_else(|| split_mark(stream).1);
            let mut marked = vec![
                TokenTree::Punct(Punct::new('@', Spacing::Alone)),
                TokenTree::Ident(Ident::new(word, Span::call_site())),
            ];
            if word == MARK {
                marked.push(TokenTree::Group(mark.clone()));
            }
            marked.extend(mark_stream(user_args, mark, word));
            let mut group = Group::new(args.delimiter(), marked.into_iter().collect());
            group.set_span(args.span());
            out.extend([
                tokens[i].clone(),
                tokens[i + 1].clone(),
                TokenTree::Group(group),
            ]);
            i += 3;
            continue;
        }
        match &tokens[i] {
            TokenTree::Group(group) => {
                let mut new =
                    Group::new(group.delimiter(), mark_stream(group.stream(), mark, word));
                new.set_span(group.span());
                out.push(TokenTree::Group(new));
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}
