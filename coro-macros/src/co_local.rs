//! `co_local!`: declares coroutine-local keys with `thread_local!`'s syntax.
//!
//! ```text
//! co_local! {
//!     crate = "my_coro";                        // optional, first: a renamed `coro`
//!     /// docs and attributes are kept
//!     pub static NAME: Type = init;             // `= const { init }` is accepted too
//!     #[inherit]                                // children start with a clone (Type: Clone)
//!     static REQUEST: Type = init;
//! }
//! ```
//! Each declaration becomes a `static NAME: LocalKey<Type>` whose initializer is a plain `fn`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, LitStr, Token, Type, Visibility};

use crate::options::parse_crate;

/// One `static NAME: T = init;`.
struct Decl {
    attrs: Vec<Attribute>,
    /// `#[inherit]` was written (and taken out of `attrs`).
    inherit: bool,
    vis: Visibility,
    name: Ident,
    ty: Type,
    init: Expr,
}

/// The whole input.
struct Input {
    krate: Option<syn::Path>,
    decls: Vec<Decl>,
}

impl Parse for Decl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut attrs = input.call(Attribute::parse_outer)?;
        let mut inherit = false;
        for a in &attrs {
            if a.path().is_ident("inherit") {
                if !matches!(a.meta, syn::Meta::Path(_)) {
                    return Err(syn::Error::new_spanned(
                        &a.meta,
                        "`#[inherit]` takes no arguments: write `#[inherit]` before `static`",
                    ));
                }
                if inherit {
                    return Err(syn::Error::new_spanned(a, "`#[inherit]` is written twice"));
                }
                inherit = true;
            }
        }
        attrs.retain(|a| !a.path().is_ident("inherit"));
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![static]) {
            return Err(
                input.error("`co_local!` declares statics: write `static NAME: Type = init;`")
            );
        }
        input.parse::<Token![static]>()?;
        if input.peek(Token![mut]) {
            let token: Token![mut] = input.parse()?;
            return Err(syn::Error::new_spanned(
                token,
                "a `co_local!` key cannot be `mut`: remove `mut` and wrap the value in a `Cell` or `RefCell`",
            ));
        }
        let name: Ident = input.parse()?;
        if !input.peek(Token![:]) {
            return Err(syn::Error::new_spanned(
                &name,
                format!(
                    "`co_local!` needs the type of `{name}`: write `static {name}: Type = init;`"
                ),
            ));
        }
        input.parse::<Token![:]>()?;
        let ty: Type = input.parse()?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new_spanned(
                &ty,
                format!(
                    "`co_local!` needs an initial value for `{name}`: write `static {name}: Type = init;`"
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        // `const { init }` as in `thread_local!`: the value is still made lazily per coroutine.
        let init = match input.parse()? {
            Expr::Const(c) if c.attrs.is_empty() => Expr::Block(syn::ExprBlock {
                attrs: Vec::new(),
                label: None,
                block: c.block,
            }),
            other => other,
        };
        if !input.is_empty() {
            input.parse::<Token![;]>()?;
        }
        Ok(Decl {
            attrs,
            inherit,
            vis,
            name,
            ty,
            init,
        })
    }
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut krate = None;
        if input.peek(Token![crate]) && input.peek2(Token![=]) {
            input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            let s: LitStr = input.parse().map_err(|e| {
                syn::Error::new(e.span(), "`crate` takes the path of the `coro` crate as a string: write `crate = \"my_coro\";`")
            })?;
            input.parse::<Token![;]>()?;
            krate = Some(parse_crate(&s)?);
        }
        let mut decls = Vec::new();
        while !input.is_empty() {
            decls.push(input.parse()?);
        }
        Ok(Input { krate, decls })
    }
}

/// Parses, validates and expands `co_local! { .. }`.
pub(crate) fn expand(input: TokenStream) -> Result<TokenStream, (syn::Error, TokenStream)> {
    let input: Input = syn::parse2(input).map_err(|e| (e, TokenStream::new()))?;
    let krate = match &input.krate {
        Some(path) => quote!(#path),
        None => quote!(::coro),
    };
    let decls = input.decls.iter().map(
        |Decl {
             attrs,
             inherit,
             vis,
             name,
             ty,
             init,
         }| {
            // A block initializer (also `const { .. }`) is the function's body as it is.
            let body = match init {
                Expr::Block(block) if block.attrs.is_empty() && block.label.is_none() => {
                    quote!(#block)
                }
                other => quote!({ #other }),
            };
            // An inherited key's type must be Clone: the error points at the type.
            let make = if *inherit {
                quote_spanned!(ty.span()=>
                    #krate::__private::LocalKey::<#ty>::new_inherited(__coro_local_init))
            } else {
                quote!(#krate::__private::LocalKey::new(__coro_local_init))
            };
            quote! {
                #(#attrs)*
                #vis static #name: #krate::__private::LocalKey<#ty> = {
                    fn __coro_local_init() -> #ty #body
                    #make
                };
            }
        },
    );
    Ok(quote!(#(#decls)*))
}
