using Kiln.Samples.Gpt;
using var model = new GptMini(1);
System.Console.WriteLine(GptMini.Summary);
