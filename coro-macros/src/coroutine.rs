//! `#[coro::coroutine]`: a function whose call spawns its body as a coroutine and returns a
//! `JoinHandle<R>`; with `yield = T`, a function whose call returns a lazy `Generator<T, R>`.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{
    AttrStyle, Attribute, FnArg, GenericParam, ItemFn, ReturnType, Type, TypeParamBound,
    WherePredicate, parse_quote,
};

use crate::co_yield;
use crate::options::{Accepts, Options, call_site_ident};

const ACCEPTS: Accepts = Accepts {
    name: "`#[coro::coroutine]`",
    keys: &["stack_size", "shared", "name", "yield", "crate"],
};

/// Parses, validates and expands `#[coro::coroutine(..)] fn ..`.
pub(crate) fn expand(
    args: TokenStream,
    item: TokenStream,
) -> Result<TokenStream, (syn::Error, TokenStream)> {
    // On error the item is emitted as written, its `co_yield!`s silenced: one error, not ten.
    let fallback = co_yield::silence(item.clone());
    let options = Parser::parse2(
        |input: syn::parse::ParseStream<'_>| Options::parse(input, &ACCEPTS),
        args,
    )
    .map_err(|e| (e, fallback.clone()))?;
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(e) => {
            // A trait method without a body parses as a trait item: say what is missing.
            let e = match syn::parse2::<syn::TraitItemFn>(item) {
                Ok(decl) if decl.default.is_none() => syn::Error::new_spanned(
                    decl.semi_token,
                    "`#[coro::coroutine]` needs a function with a body: write `fn name(..) { .. }`",
                ),
                _ => e,
            };
            return Err((e, fallback));
        }
    };
    validate(&func, &options).map_err(|e| (e, fallback.clone()))?;
    let krate = options.krate();
    match &options.yield_ty {
        Some((_, ty)) => Ok(expand_generator(func, &options, ty.clone(), &krate)),
        None => Ok(expand_spawn(func, &options, &krate)),
    }
}

/// The checks shared by both forms; each error says what to write instead.
pub(crate) fn validate_signature(func: &ItemFn, what: &str) -> syn::Result<()> {
    let sig = &func.sig;
    if let Some(token) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            token,
            format!(
                "{what} functions cannot be `async`: remove `async`, the body already runs as a coroutine and its blocking calls yield"
            ),
        ));
    }
    if let Some(token) = &sig.constness {
        return Err(syn::Error::new_spanned(
            token,
            format!("{what} functions cannot be `const`: remove `const`"),
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new_spanned(
            abi,
            format!(
                "{what} functions use the Rust ABI: remove `{}`",
                abi.to_token_stream()
            ),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            format!("{what} functions cannot be variadic: take a `Vec` or a slice instead"),
        ));
    }
    Ok(())
}

fn validate(func: &ItemFn, options: &Options) -> syn::Result<()> {
    validate_signature(func, "`#[coro::coroutine]`")?;
    let sig = &func.sig;
    if options.yield_ty.is_some()
        && let Some((key, true)) = &options.shared
    {
        return Err(syn::Error::new_spanned(
            key,
            "a generator runs on its own stack, not on the shared stacks: remove `shared` (or use `stack_size = N`)",
        ));
    }
    if options.yield_ty.is_some()
        && let Some(name) = &options.name
    {
        return Err(syn::Error::new_spanned(
            name,
            "a generator is not spawned, so it has no name to show: remove `name`",
        ));
    }
    for param in &sig.generics.params {
        if let GenericParam::Lifetime(lt) = param {
            return Err(syn::Error::new_spanned(
                lt,
                "a `#[coro::coroutine]` function cannot take lifetime parameters: its body outlives the call, so take owned (`'static`) arguments",
            ));
        }
    }
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(recv) => {
                if recv.reference.is_some() || matches!(&*recv.ty, Type::Reference(_)) {
                    return Err(syn::Error::new_spanned(
                        recv,
                        "a `#[coro::coroutine]` method cannot borrow `self`: its body outlives the call, so take `self` by value (`self`, `self: Rc<Self>`) or clone what it needs into an owned argument",
                    ));
                }
            }
            FnArg::Typed(pat) => {
                if let Type::Reference(r) = &*pat.ty
                    && r.lifetime.as_ref().is_none_or(|lt| lt.ident != "static")
                {
                    return Err(syn::Error::new_spanned(
                        &pat.ty,
                        "a `#[coro::coroutine]` function cannot take borrowed arguments: its body outlives the call, so take an owned value (`String` for `&str`, `Vec<T>` for `&[T]`, `Rc<T>` for `&T`)",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The pieces of a function both forms rebuild: outer attributes, the body with its inner
/// attributes, and the signature with `'static` bounds added where the body needs them.
struct Parts {
    outer: Vec<Attribute>,
    inner: Vec<Attribute>,
    func: ItemFn,
    ret: Type,
}

fn split(mut func: ItemFn) -> Parts {
    let (inner, outer): (Vec<_>, Vec<_>) = std::mem::take(&mut func.attrs)
        .into_iter()
        .partition(|a| matches!(a.style, AttrStyle::Inner(_)));
    // The body moves into a `'static` closure: every type parameter and `impl Trait` argument
    // must be `'static`, which the signature now says instead of rustc's longer error.
    // Each bound goes where the parameter's other bounds are, to keep one place per parameter.
    let generics = &mut func.sig.generics;
    for param in &mut generics.params {
        let GenericParam::Type(t) = param else {
            continue;
        };
        let ident = &t.ident;
        let in_where = generics.where_clause.as_mut().and_then(|w| {
            w.predicates.iter_mut().find_map(|p| match p {
                WherePredicate::Type(pt)
                    if matches!(&pt.bounded_ty, Type::Path(tp) if tp.qself.is_none() && tp.path.is_ident(ident)) =>
                {
                    Some(pt)
                }
                _ => None,
            })
        });
        match in_where {
            Some(pt) if t.bounds.is_empty() => pt.bounds.push(parse_quote!('static)),
            _ => t.bounds.push(parse_quote!('static)),
        }
    }
    for arg in &mut func.sig.inputs {
        if let FnArg::Typed(pat) = arg
            && let Type::ImplTrait(imp) = &mut *pat.ty
        {
            let has_static = imp
                .bounds
                .iter()
                .any(|b| matches!(b, TypeParamBound::Lifetime(lt) if lt.ident == "static"));
            if !has_static {
                imp.bounds.push(parse_quote!('static));
            }
        }
    }
    let ret = match &func.sig.output {
        ReturnType::Default => parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    Parts {
        outer,
        inner,
        func,
        ret,
    }
}

/// Whether `tokens` mention `impl` (an opaque type cannot annotate a closure's return type).
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == "impl",
        TokenTree::Group(g) => mentions_impl(g.stream()),
        _ => false,
    })
}

fn closure_ret(ret: &Type) -> TokenStream {
    if mentions_impl(ret.to_token_stream()) {
        TokenStream::new()
    } else {
        quote!(-> #ret)
    }
}

fn stack_size_arg(options: &Options) -> TokenStream {
    match &options.stack_size {
        Some(n) => quote_spanned!(n.span()=> ::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    }
}

fn expand_spawn(func: ItemFn, options: &Options, krate: &TokenStream) -> TokenStream {
    let Parts {
        outer,
        inner,
        mut func,
        ret,
    } = split(func);
    let stmts = &func.block.stmts;
    let closure_ret = closure_ret(&ret);
    let body = quote!(move || #closure_ret { #(#stmts)* });
    let call = options.spawn_call(krate, body);
    let span = func.sig.output.span();
    func.sig.output = parse_quote_spanned(span, quote!(-> #krate::JoinHandle<#ret>));
    let vis = &func.vis;
    let sig = &func.sig;
    // The census names the caller of the function as the coroutine's spawn site.
    let track = if outer.iter().any(|a| a.path().is_ident("track_caller")) {
        quote!()
    } else {
        quote!(#[track_caller])
    };
    quote! {
        #(#outer)*
        #track
        #vis #sig {
            #(#inner)*
            #call
        }
    }
}

fn expand_generator(
    func: ItemFn,
    options: &Options,
    yield_ty: Type,
    krate: &TokenStream,
) -> TokenStream {
    let Parts {
        outer,
        inner,
        mut func,
        ret,
    } = split(func);
    let stmts = &func.block.stmts;
    let body = co_yield::rewrite(quote!(#(#stmts)*), &yield_ty, krate);
    let yielder = call_site_ident(co_yield::YIELDER);
    let closure_ret = closure_ret(&ret);
    let stack_size = stack_size_arg(options);
    let span = func.sig.output.span();
    func.sig.output = parse_quote_spanned(span, quote!(-> #krate::Generator<#yield_ty, #ret>));
    let vis = &func.vis;
    let sig = &func.sig;
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #krate::__private::generator(
                #stack_size,
                move |#yielder: &#krate::__private::Yielder<(), #yield_ty>| #closure_ret {
                    // `co_yield!` calls were marked to use the yielder; a body without one
                    // still compiles without an unused-variable warning.
                    let _ = #yielder;
                    #body
                },
            )
        }
    }
}

fn parse_quote_spanned(span: proc_macro2::Span, tokens: TokenStream) -> ReturnType {
    let tokens: TokenStream = tokens
        .into_iter()
        .map(|mut t| {
            t.set_span(span);
            t
        })
        .collect();
    syn::parse2(tokens).expect("a return type built by the macro parses")
}
