//! What the macros share: the `key = value` option lists, the `crate = ".."` path, and the one
//! place where errors become `compile_error!`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token, Type};

/// Turns a macro's result into tokens: the expansion, or the error as `compile_error!` followed by
/// whatever the macro could still emit (so the user sees one error, not ten).
pub(crate) fn emit(
    result: Result<TokenStream, (syn::Error, TokenStream)>,
) -> proc_macro::TokenStream {
    match result {
        Ok(tokens) => tokens.into(),
        Err((error, fallback)) => {
            let error = error.to_compile_error();
            quote!(#error #fallback).into()
        }
    }
}

/// The value of one option: a type after `yield =`, an expression after any other key.
pub(crate) enum OptValue {
    /// `yield = T`.
    Type(Type),
    /// `key = expr`.
    Expr(Expr),
}

/// One `key`, `key = value` or `unsafe(key)` in an option list.
pub(crate) struct Opt {
    /// The key, which may be a keyword (`yield`, `crate`).
    pub(crate) key: Ident,
    /// The value after `=`, if any.
    pub(crate) value: Option<OptValue>,
    /// Written inside `unsafe(..)`: the user promises the option's safety contract.
    pub(crate) unsafe_token: Option<Token![unsafe]>,
}

impl Parse for Opt {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Token![unsafe]) {
            let unsafe_token: Token![unsafe] = input.parse()?;
            let content;
            syn::parenthesized!(content in input);
            let mut opt: Opt = content.parse()?;
            if !content.is_empty() {
                return Err(content.error("write one option inside `unsafe(..)`: `unsafe(shared)`"));
            }
            opt.unsafe_token = Some(unsafe_token);
            return Ok(opt);
        }
        let key = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected an option such as `stack_size = 65536`, `unsafe(shared)` or `crate = \"coro\"`",
            )
        })?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            if key == "yield" {
                Some(OptValue::Type(input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`yield` takes the type of the yielded values: write `yield = u32`",
                    )
                })?))
            } else {
                Some(OptValue::Expr(input.parse()?))
            }
        } else {
            None
        };
        Ok(Opt {
            key,
            value,
            unsafe_token: None,
        })
    }
}

/// A parsed option list, with the options every macro understands pulled out.
#[derive(Default)]
pub(crate) struct Options {
    /// `stack_size = N`, in bytes.
    pub(crate) stack_size: Option<Expr>,
    /// `shared` or `shared = true`.
    pub(crate) shared: Option<(Ident, bool)>,
    /// `yield = T`.
    pub(crate) yield_ty: Option<(Ident, Type)>,
    /// `replicate = N` (or its old name `threads = N`, which warns).
    pub(crate) threads: Option<(Ident, Expr)>,
    /// `name = "..."`: the coroutine's name.
    pub(crate) name: Option<Expr>,
    /// `builder = expr`: a `coro::Builder` to spawn with (go! only).
    pub(crate) builder: Option<(Ident, Expr)>,
    /// `crate = "path"`.
    pub(crate) krate: Option<Path>,
}

/// The options a macro accepts, and how to name the macro in errors.
pub(crate) struct Accepts {
    /// The macro as the user writes it, e.g. "`#[coro::coroutine]`".
    pub(crate) name: &'static str,
    /// The keys it accepts.
    pub(crate) keys: &'static [&'static str],
}

impl Options {
    /// Parses a comma-separated list of options and checks each against `accepts`.
    pub(crate) fn parse(input: ParseStream<'_>, accepts: &Accepts) -> syn::Result<Self> {
        let list = input.parse_terminated(Opt::parse, Token![,])?;
        Self::from_list(list, accepts)
    }

    /// Checks already-parsed options against `accepts`.
    pub(crate) fn from_list(
        list: impl IntoIterator<Item = Opt>,
        accepts: &Accepts,
    ) -> syn::Result<Self> {
        let mut options = Options::default();
        let mut seen: Vec<String> = Vec::new();
        for opt in list {
            let key = opt.key.to_string();
            if !accepts.keys.contains(&key.as_str()) {
                return Err(unknown_option(&opt.key, accepts));
            }
            if seen.contains(&key) {
                return Err(syn::Error::new_spanned(
                    &opt.key,
                    format!("`{key}` is given twice; keep one `{key}`"),
                ));
            }
            seen.push(key.clone());
            if let Some(token) = &opt.unsafe_token
                && key != "shared"
            {
                return Err(syn::Error::new_spanned(
                    token,
                    format!("`{key}` has no safety contract: write it without `unsafe(..)`"),
                ));
            }
            match key.as_str() {
                "stack_size" => options.stack_size = Some(stack_size(&opt)?),
                "shared" => {
                    let on = shared(&opt)?;
                    if on && opt.unsafe_token.is_none() {
                        return Err(syn::Error::new_spanned(
                            &opt.key,
                            "a coroutine on a shared stack must not lend references into its stack while it is suspended, which the compiler cannot check: write `unsafe(shared)` to promise it (see the book's Safety model)",
                        ));
                    }
                    options.shared = Some((opt.key.clone(), on));
                }
                "yield" => match opt.value {
                    Some(OptValue::Type(ty)) => options.yield_ty = Some((opt.key, ty)),
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &opt.key,
                            "`yield` needs the type of the yielded values: write `yield = u32`",
                        ));
                    }
                },
                "threads" | "replicate" => {
                    if options.threads.is_some() {
                        return Err(syn::Error::new_spanned(
                            &opt.key,
                            "`threads` is the old name of `replicate`: keep one `replicate = N`",
                        ));
                    }
                    let value = threads(&opt)?;
                    options.threads = Some((opt.key, value));
                }
                "name" => match opt.value {
                    Some(OptValue::Expr(expr)) => options.name = Some(expr),
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &opt.key,
                            "`name` takes the coroutine's name: write `name = \"worker\"`",
                        ));
                    }
                },
                "builder" => match opt.value {
                    Some(OptValue::Expr(expr)) => options.builder = Some((opt.key, expr)),
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &opt.key,
                            "`builder` takes a `coro::Builder`: write `builder = coro::Builder::new().name(\"w\")`",
                        ));
                    }
                },
                "crate" => options.krate = Some(crate_path(&opt)?),
                _ => return Err(unknown_option(&opt.key, accepts)),
            }
        }
        if let Some((key, _)) = &options.builder
            && (options.stack_size.is_some() || options.shared.is_some() || options.name.is_some())
        {
            return Err(syn::Error::new_spanned(
                key,
                "with `builder = ..`, set the name, stack size and shared stack on the builder, not as options",
            ));
        }
        Ok(options)
    }

    /// The call that spawns `body` (a closure expression) with these options. A shared stack
    /// goes through the unsafe `spawn_shared`, the user having written `unsafe(shared)`; the
    /// closure is bound first so that its body is not inside the `unsafe` block.
    pub(crate) fn spawn_call(&self, krate: &TokenStream, body: TokenStream) -> TokenStream {
        let shared = self.shared.as_ref().is_some_and(|(_, on)| *on);
        let stack_size = match &self.stack_size {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let name = match &self.name {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        if let Some((_, builder)) = &self.builder {
            quote!(#krate::__private::spawn_builder(#builder, #body))
        } else if shared {
            quote!({
                let __coro_body = #body;
                // SAFETY: the user wrote `unsafe(shared)`, promising the body lends no
                // reference into its stack while it is suspended.
                unsafe { #krate::__private::spawn_shared(#stack_size, #name, __coro_body) }
            })
        } else if self.stack_size.is_some() || self.name.is_some() {
            quote!(#krate::__private::spawn_with(#stack_size, #name, #body))
        } else {
            quote!(#krate::__private::spawn(#body))
        }
    }

    /// The path the expansion names the facade by: `::coro` unless `crate = ".."` says otherwise.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => path.to_token_stream(),
            None => quote!(::coro),
        }
    }
}

fn unknown_option(key: &Ident, accepts: &Accepts) -> syn::Error {
    let list = accepts
        .keys
        .iter()
        // `threads` is the old name of `replicate`: not offered.
        .filter(|k| **k != "threads")
        .map(|k| match *k {
            "stack_size" => "`stack_size = N`",
            "shared" => "`unsafe(shared)`",
            "yield" => "`yield = T`",
            "threads" | "replicate" => "`replicate = N`",
            "name" => "`name = \"..\"`",
            "builder" => "`builder = coro::Builder::new()..`",
            "crate" => "`crate = \"path\"`",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(", ");
    let hint = match key.to_string().as_str() {
        "yield" if accepts.name.contains("main") || accepts.name.contains("test") => {
            format!(
                "{} runs its body as a coroutine, not a generator: remove `yield`, or put the body in a `#[coro::coroutine(yield = T)]` function",
                accepts.name
            )
        }
        _ => format!(
            "unknown option `{key}` for {}: use one of {list}",
            accepts.name
        ),
    };
    syn::Error::new_spanned(key, hint)
}

fn stack_size(opt: &Opt) -> syn::Result<Expr> {
    let hint = "`stack_size` takes a size in bytes: write `stack_size = 65536`";
    match &opt.value {
        Some(OptValue::Expr(expr)) => {
            if let Expr::Lit(ExprLit { lit, .. }) = expr {
                match lit {
                    Lit::Int(int) => {
                        let n: u128 = int.base10_parse()?;
                        if n == 0 {
                            return Err(syn::Error::new_spanned(
                                expr,
                                "a stack of 0 bytes cannot run anything: write a size such as `stack_size = 65536`",
                            ));
                        }
                    }
                    _ => return Err(syn::Error::new_spanned(expr, hint)),
                }
            }
            Ok(expr.clone())
        }
        _ => Err(syn::Error::new_spanned(&opt.key, hint)),
    }
}

fn shared(opt: &Opt) -> syn::Result<bool> {
    match &opt.value {
        None => Ok(true),
        Some(OptValue::Expr(Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }))) => Ok(b.value),
        Some(OptValue::Expr(expr)) => Err(syn::Error::new_spanned(
            expr,
            "`shared` is a flag: write `shared` (or `shared = false`)",
        )),
        Some(OptValue::Type(ty)) => Err(syn::Error::new_spanned(
            ty,
            "`shared` is a flag: write `shared` (or `shared = false`)",
        )),
    }
}

fn threads(opt: &Opt) -> syn::Result<Expr> {
    let hint = "`replicate` takes a number of threads: write `replicate = 4`";
    match &opt.value {
        Some(OptValue::Expr(expr)) => {
            if let Expr::Lit(ExprLit { lit, .. }) = expr {
                match lit {
                    Lit::Int(int) if int.base10_parse::<u64>()? == 0 => {
                        return Err(syn::Error::new_spanned(
                            expr,
                            "a runtime needs at least one thread: write `replicate = 1` or more",
                        ));
                    }
                    Lit::Int(_) => {}
                    _ => return Err(syn::Error::new_spanned(expr, hint)),
                }
            }
            Ok(expr.clone())
        }
        _ => Err(syn::Error::new_spanned(&opt.key, hint)),
    }
}

fn crate_path(opt: &Opt) -> syn::Result<Path> {
    let hint =
        "`crate` takes the path of the `coro` crate as a string: write `crate = \"my_coro\"`";
    match &opt.value {
        Some(OptValue::Expr(Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }))) => parse_crate(s),
        Some(OptValue::Expr(expr)) => Err(syn::Error::new_spanned(expr, hint)),
        _ => Err(syn::Error::new_spanned(&opt.key, hint)),
    }
}

/// Parses the string of `crate = ".."` as a path, keeping the string's span for errors.
pub(crate) fn parse_crate(s: &LitStr) -> syn::Result<Path> {
    let mut path: Path = s.parse().map_err(|_| {
        syn::Error::new_spanned(
            s,
            "`crate` takes a path such as `\"coro\"` or `\"::my_coro\"`",
        )
    })?;
    // Name the crate at the call site so a renamed dependency resolves there.
    for seg in &mut path.segments {
        seg.ident.set_span(s.span());
    }
    Ok(path)
}

/// An identifier that resolves at the macro's call site (proc-macro hygiene is unhygienic there),
/// so the names one expansion defines can be used by tokens it rewrote in the user's code.
pub(crate) fn call_site_ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}
