//! `#[coro::main]` and `#[coro::test]`: run a function's body as the first coroutine of a
//! runtime (`coro::run`), on a stack of `stack_size = N` bytes if given, or replicated: once
//! on each of N threads, each with its own runtime, with `replicate = N` (`threads = N` is its
//! old name, and warns).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::{AttrStyle, ItemFn, ReturnType};

use crate::coroutine::validate_signature;
use crate::options::{Accepts, Options};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[coro::main]`.
    Main,
    /// `#[coro::test]`: also marks the function `#[test]`.
    Test,
}

impl Kind {
    fn accepts(self) -> Accepts {
        match self {
            Kind::Main => Accepts {
                name: "`#[coro::main]`",
                keys: &["replicate", "threads", "stack_size", "crate"],
            },
            Kind::Test => Accepts {
                name: "`#[coro::test]`",
                keys: &["replicate", "threads", "stack_size", "crate"],
            },
        }
    }
}

/// Parses, validates and expands `#[coro::main(..)]` or `#[coro::test(..)]`.
pub(crate) fn expand(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
) -> Result<TokenStream, (syn::Error, TokenStream)> {
    let fallback = item.clone();
    let accepts = kind.accepts();
    let options = Parser::parse2(
        |input: syn::parse::ParseStream<'_>| Options::parse(input, &accepts),
        args,
    )
    .map_err(|e| (e, fallback.clone()))?;
    let func: ItemFn = syn::parse2(item).map_err(|e| (e, fallback.clone()))?;
    validate(kind, &func, &accepts).map_err(|e| (e, stub(&func)))?;
    Ok(expand_fn(kind, func, &options))
}

fn validate(kind: Kind, func: &ItemFn, accepts: &Accepts) -> syn::Result<()> {
    validate_signature(func, accepts.name)?;
    let sig = &func.sig;
    if let Some(arg) = sig.inputs.first() {
        return Err(syn::Error::new_spanned(
            arg,
            format!(
                "{} functions take no arguments: remove them (read `std::env::args()` inside)",
                accepts.name
            ),
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "{} functions cannot be generic: remove the generic parameters",
                accepts.name
            ),
        ));
    }
    if kind == Kind::Test
        && let Some(attr) = func.attrs.iter().find(|a| a.path().is_ident("test"))
    {
        return Err(syn::Error::new_spanned(
            attr,
            "`#[coro::test]` already marks the function as a test: remove `#[test]`",
        ));
    }
    Ok(())
}

/// What stands in for a function the attribute rejected: its name and return type with a body
/// that never runs, so that rustc adds no errors of its own (`main` with arguments, ...).
fn stub(func: &ItemFn) -> TokenStream {
    let outer = func
        .attrs
        .iter()
        .filter(|a| matches!(a.style, AttrStyle::Outer) && !a.path().is_ident("test"));
    let vis = &func.vis;
    let name = &func.sig.ident;
    let ret = &func.sig.output;
    quote! {
        #(#outer)*
        #vis fn #name() #ret {
            ::core::unreachable!()
        }
    }
}

fn expand_fn(kind: Kind, func: ItemFn, options: &Options) -> TokenStream {
    let krate = options.krate();
    let (inner, outer): (Vec<_>, Vec<_>) = func
        .attrs
        .into_iter()
        .partition(|a| matches!(a.style, AttrStyle::Inner(_)));
    let vis = &func.vis;
    let sig = &func.sig;
    let stmts = &func.block.stmts;
    let ret = match &sig.output {
        ReturnType::Default => quote!(),
        ReturnType::Type(_, ty) => quote!(-> #ty),
    };
    let stack_size = match &options.stack_size {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let run = match &options.threads {
        Some((_, n)) => {
            quote!(#krate::__private::run_threads(#n, #stack_size, move || #ret { #(#stmts)* }))
        }
        None => quote!(#krate::__private::run_with(#stack_size, move || #ret { #(#stmts)* })),
    };
    // `threads = N` is the old name of `replicate = N`: using it calls a deprecated function,
    // so that the compiler warns with the new name.
    let renamed = match &options.threads {
        Some((key, _)) if key == "threads" => {
            quote_spanned!(key.span()=> #krate::__private::threads_is_now_replicate();)
        }
        _ => quote!(),
    };
    let test_attr = match kind {
        Kind::Test => quote!(#[::core::prelude::v1::test]),
        Kind::Main => quote!(),
    };
    quote! {
        #test_attr
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #renamed
            #run
        }
    }
}
