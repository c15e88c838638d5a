"""Drives `mesh402 mcp` with the official MCP Python SDK (PyPI `mcp`), as an agent would: list the tools, quote a
photo, check it (not bought yet), buy its model, check it again; then, given a second image that the paid
generation refuses, buy it (an error), check it (a refund is offered) and claim the refund; and quote a text prompt
instead of an image (refused by a server whose generator reads no text). Prints one JSON object
with what it saw. Arguments: the mesh402 binary, then the arguments of `mesh402 mcp`, then `--`, then the image
path and optionally the second image's."""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main() -> None:
    split = sys.argv.index("--")
    command, server_args, image = sys.argv[1], sys.argv[2:split], sys.argv[split + 1]
    refused_image = sys.argv[split + 2] if len(sys.argv) > split + 2 else None
    params = StdioServerParameters(command=command, args=["mcp", *server_args])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            quote = await session.call_tool("quote_model", {"image_path": image})
            prompt_quote = await session.call_tool("quote_model", {"prompt": "a brass oil lamp"})
            before = await session.call_tool("check_job", {"image_path": image})
            bought = await session.call_tool("generate_model", {"image_path": image})
            after = await session.call_tool("check_job", {"image_path": image})
            refund = {}
            if refused_image:
                for name, tool in [("generate", "generate_model"), ("check", "check_job"), ("claim", "claim_refund")]:
                    answer = await session.call_tool(tool, {"image_path": refused_image})
                    refund[name] = {"is_error": bool(answer.isError), "text": answer.content[0].text}
            print(json.dumps({
                "refund": refund,
                "tools": sorted(tool.name for tool in tools.tools),
                "descriptions": {tool.name: tool.description for tool in tools.tools},
                "quote": {"is_error": bool(quote.isError), "text": quote.content[0].text},
                "prompt_quote": {"is_error": bool(prompt_quote.isError), "text": prompt_quote.content[0].text},
                "input_schemas": {tool.name: tool.inputSchema for tool in tools.tools},
                "generate": {"is_error": bool(bought.isError), "text": bought.content[0].text},
                "check_before": {"is_error": bool(before.isError), "text": before.content[0].text},
                "check_after": {"is_error": bool(after.isError), "text": after.content[0].text},
            }))


asyncio.run(main())
