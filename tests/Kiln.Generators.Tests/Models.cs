namespace Kiln.Generators.Tests;

/// <summary>Model declarations used by several tests.</summary>
internal static class Models
{
    /// <summary>Zoo model Z1 exactly as the Mnist sample declares it.</summary>
    public static readonly string Z1 = System.IO.File.ReadAllText(System.IO.Path.Combine(DiagnosticTests.RepositoryRoot(), "samples", "Mnist", "MnistMlp.cs"));

    /// <summary>A model file of the GPT sample (Z5 and its decoder block).</summary>
    public static string Gpt(string file) =>
        System.IO.File.ReadAllText(System.IO.Path.Combine(DiagnosticTests.RepositoryRoot(), "samples", "Gpt", file + ".cs"));

    /// <summary>A model file of the encoder-decoder sample (the digit Transformer and its encoder and decoder layers).</summary>
    public static string Seq2Seq(string file) =>
        System.IO.File.ReadAllText(System.IO.Path.Combine(DiagnosticTests.RepositoryRoot(), "samples", "Seq2Seq", file + ".cs"));

    /// <summary>A model file of the char-RNN sample (Z3, Z4 and their one-character generators).</summary>
    public static string CharRnn(string file) =>
        System.IO.File.ReadAllText(System.IO.Path.Combine(DiagnosticTests.RepositoryRoot(), "samples", "CharRnn", file + ".cs"));

    /// <summary>Every model file of the samples (every model family: MLP, CNN, ResNet, DenseNet, LSTM, GRU, GPT,
    /// encoder-decoder), as (sample, file).</summary>
    public static readonly (string Sample, string File)[] SampleFiles =
    {
        ("Mnist", "MnistMlp"), ("Cifar", "CifarCnn"), ("Cifar", "CifarResNet"), ("Cifar", "CifarDenseNet"),
        ("CharRnn", "CharLstm"), ("CharRnn", "CharGru"), ("Gpt", "GptMini"), ("Seq2Seq", "DigitTransformer"),
    };

    /// <summary>A model file of a sample.</summary>
    public static string Sample(string sample, string file) =>
        System.IO.File.ReadAllText(System.IO.Path.Combine(DiagnosticTests.RepositoryRoot(), "samples", sample, file + ".cs"));

    /// <summary>A CNN sample's declarations (Z2, the small ResNet and its blocks, the small DenseNet and its block).</summary>
    public static string Cifar(string file) =>
        System.IO.File.ReadAllText(System.IO.Path.Combine(DiagnosticTests.RepositoryRoot(), "samples", "Cifar", file + ".cs"));

    public const string Skip = GeneratorHarness.Usings + """
        /// A residual MLP: the second block adds its input back (a ResNet-style skip).
        [Model(Batch = 32)]
        public partial class ResidualMlp
        {
            [Input(64)]                           public partial Node Features { get; }
            [Dense(128), Gelu]                    public partial Node Stem { get; }
            [Dense(128), Tanh]                    public partial Node Block { get; }
            [Add(nameof(Stem))]                   public partial Node Sum { get; }
            [LeakyRelu(0.1), Dense(10)]           public partial Node Logits { get; }
            [SoftmaxCrossEntropy(Classes = 10)]   public partial Node Loss { get; }
        }
        """;

    public const string Regression = GeneratorHarness.Usings + """
        [Model(Batch = 16)]
        internal partial class Regressor
        {
            [Input(8)]                        public partial Node X { get; }
            [Dense(32), Sigmoid]              public partial Node Hidden { get; }
            [Dense(16, Bias = false), Softmax] public partial Node Mixture { get; }
            [Dense(3)]                        public partial Node Prediction { get; }
            [MeanSquaredError(Width = 3)]     public partial Node Loss { get; }
        }
        """;

    public const string Focal = GeneratorHarness.Usings + """
        /// A classifier trained with a focal loss, summed: every sample's loss counts, the easy ones less.
        [Model(Batch = 8)]
        public partial class FocalClassifier
        {
            [Input(12)]                                               public partial Node Features { get; }
            [Dense(16), Relu]                                         public partial Node Hidden { get; }
            [Dense(4)]                                                public partial Node Logits { get; }
            [FocalLoss(Gamma = 2, Alpha = 0.5, Reduction = Reduction.Sum)] public partial Node Loss { get; }
        }
        """;

    public const string Regularized = GeneratorHarness.Usings + """
        /// Dropout and input noise: active while Training, the identity in evaluation.
        [Model(Batch = 16)]
        public partial class RegularizedMlp
        {
            [Input(20), GaussianNoise(0.1)]             public partial Node Features { get; }
            [Dense(32), Relu, Dropout(0.25)]            public partial Node Hidden { get; }
            [Dense(5)]                                  public partial Node Logits { get; }
            [SoftmaxCrossEntropy(LabelSmoothing = 0.1)] public partial Node Loss { get; }
        }
        """;
}
