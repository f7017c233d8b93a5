"""The baseline for bench/completion.py: a bare pygls 2 server whose
``textDocument/inlineCompletion`` handler makes the same model call with the
same SDK, and nothing else.

On each request it cuts the document's text around the cursor (the 6,000
characters before, the 2,000 after: what assistant-router sends with its
default token budgets), streams ``completions.create`` (fill-in-the-middle)
or ``chat.completions.create`` from the OpenAI SDK with a client made once,
and answers one item with the first line of the answer. No policy, no
context, no secret scan, no ledger, no cancel-previous, no debounce.

Run: ``python bench/bare_completion_server.py`` (LSP over stdio) with
``BENCH_BASE_URL``, ``BENCH_API`` (completions or chat), ``BENCH_MODEL`` and
the key in ``ASSISTANT_ROUTER_BENCH_KEY``.
"""

import os

import openai
from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("bare-completion", "1.0")
client = openai.AsyncOpenAI(base_url=os.environ["BENCH_BASE_URL"], api_key=os.environ["ASSISTANT_ROUTER_BENCH_KEY"],
                            max_retries=0)
API = os.environ.get("BENCH_API", "completions")
MODEL = os.environ.get("BENCH_MODEL", "bench-fim")


@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def inline_completion(ls: LanguageServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    document = ls.workspace.get_text_document(params.text_document.uri)
    offset = document.offset_at_position(params.position)
    prefix, suffix = document.source[max(0, offset - 6000):offset], document.source[offset:offset + 2000]
    text = ""
    if API == "completions":
        stream = await client.completions.create(model=MODEL, prompt=prefix, suffix=suffix, stream=True,
                                                 max_tokens=256, stop=["\n\n"])
        async with stream:
            async for chunk in stream:
                text += "".join(choice.text or "" for choice in chunk.choices or ())
    else:
        prompt = f"Task: complete.\n\nCode, with the cursor marked <CURSOR>:\n```python\n{prefix}<CURSOR>{suffix}\n```"
        stream = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}],
                                                      stream=True, max_tokens=256)
        async with stream:
            async for chunk in stream:
                text += "".join(choice.delta.content or "" for choice in chunk.choices or ())
    position = params.position
    return types.InlineCompletionList(items=[types.InlineCompletionItem(
        insert_text=text.split("\n")[0] or text, range=types.Range(position, position))])


if __name__ == "__main__":
    server.start_io()
