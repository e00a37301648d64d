using System.Runtime.InteropServices;
using ShampooMkl.Optim;
using ShampooMkl.TorchSharp.Native;
using TorchSharp;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace ShampooMkl.TorchSharp;

/// <summary>One TorchSharp parameter seen by the core optimizer as a <see cref="Parameter"/> over the tensor's own
/// storage: values bound once, the gradient re-bound before every step.</summary>
/// <remarks>Construction refuses what the core cannot read in place (not CPU, not contiguous, not fp32/fp64, no
/// gradient ever, more than 2³¹ − 1 elements). The per-step calls use only the blittable C exports of
/// <see cref="LibTorchSharp"/>, so they allocate no managed memory; messages are built only when they throw.</remarks>
internal sealed class BoundTensor
{
    private const int Cpu = (int)DeviceType.CPU;

    private readonly nint values;
    private readonly sbyte scalarType;

    public BoundTensor(string name, TorchParameter tensor)
    {
        Name = name;
        Tensor = tensor;
        if (tensor.IsInvalid)
        {
            throw new ArgumentException($"Parameter '{name}' has been disposed: pass the module's live parameters.");
        }

        if (tensor.device_type != DeviceType.CPU)
        {
            throw new ArgumentException(
                $"Parameter '{name}' is on device {tensor.device}; ShampooMkl optimizes CPU tensors only (it updates their storage in place): " +
                "move the model to the CPU (module.to(torch.CPU)) before creating the optimizer.");
        }

        var dtype = tensor.dtype;
        if (dtype is not (torch.ScalarType.Float32 or torch.ScalarType.Float64))
        {
            throw new ArgumentException(
                $"Parameter '{name}' has dtype {dtype}; ShampooMkl optimizes float32 and float64 parameters: " +
                "convert the model (module.to(torch.float32)) before creating the optimizer.");
        }

        if (!tensor.is_contiguous())
        {
            throw new ArgumentException(
                $"Parameter '{name}' [{Dimensions(tensor.shape)}] is not contiguous (a strided view); the optimizer reads and writes its " +
                "storage in place as one row-major block: make the parameter a contiguous tensor (e.g. from tensor.contiguous()).");
        }

        if (!tensor.requires_grad)
        {
            throw new ArgumentException(
                $"Parameter '{name}' does not require gradients (requires_grad is false), so it never has one: leave it out of the optimizer.");
        }

        var numel = tensor.numel();
        if (numel > Array.MaxLength)
        {
            throw new ArgumentException($"Parameter '{name}' has {numel} elements; ShampooMkl parameters hold at most {Array.MaxLength}.");
        }

        Length = (int)numel;
        scalarType = (sbyte)dtype;
        Precision = dtype == torch.ScalarType.Float32 ? ParameterPrecision.Single : ParameterPrecision.Double;
        values = LibTorchSharp.THSTensor_data(tensor.Handle);
        // A conv weight (out, in, kh, kw) keeps its shape: the core merges the trailing dimensions into columns.
        int[] shape = tensor.shape.Length == 0 ? [1] : [.. tensor.shape.Select(d => checked((int)d))];
        Core = Parameter.FromPointer(name, values, Length, Precision, shape);
    }

    /// <summary>The parameter's name in the optimizer (checkpoints, messages).</summary>
    public string Name { get; }

    /// <summary>The TorchSharp parameter (owned by its module, never disposed here).</summary>
    public TorchParameter Tensor { get; }

    /// <summary>The core parameter over the tensor's storage.</summary>
    public Parameter Core { get; }

    /// <summary>The element count.</summary>
    public int Length { get; }

    /// <summary>fp32 or fp64.</summary>
    public ParameterPrecision Precision { get; }

    /// <summary>The first byte of the values and one past the last, for overlap checks.</summary>
    public (nint Start, nint End) Storage => (values, values + (Length * (Precision == ParameterPrecision.Single ? 4 : 8)));

    /// <summary>Binds the tensor's current gradient to <see cref="Core"/>, after checking that the values still live where
    /// they were bound and that the gradient is a CPU, contiguous tensor of the parameter's dtype and size.</summary>
    /// <exception cref="InvalidOperationException">The storage moved, the gradient is undefined or unusable (message names
    /// the parameter and what to do); nothing of the optimizer changes.</exception>
    public void BindGradient()
    {
        var handle = LiveHandle();
        var grad = LibTorchSharp.THSTensor_grad(handle);
        if (grad == 0)
        {
            throw new InvalidOperationException(
                $"Parameter '{Name}' has no gradient at step() (its .grad is undefined: it took no part in the loss, or backward() " +
                "was not called). ShampooMkl does not skip single parameters, because Shampoo's statistics would no longer describe " +
                "the same steps: call backward() on a loss that uses every parameter, or create the optimizer without this one. No optimizer state was changed.");
        }

        try
        {
            CheckGradient(grad);
            Core.BindGradient(LibTorchSharp.THSTensor_data(grad), Length);
        }
        finally
        {
            // Only the handle: the parameter's .grad keeps the storage alive until the next backward or zero_grad.
            LibTorchSharp.THSTensor_dispose(grad);
        }
    }

    /// <summary>Zeroes the gradient in place (its storage stays, so a framework pointer to it stays valid), as
    /// TorchSharp's own optimizers do; an undefined gradient stays undefined.</summary>
    public unsafe void ZeroGradient()
    {
        var handle = LiveHandle();
        var grad = LibTorchSharp.THSTensor_grad(handle);
        if (grad == 0)
        {
            return;
        }

        try
        {
            if (LibTorchSharp.THSTensor_device_type(grad) == Cpu && LibTorchSharp.THSTensor_is_contiguous(grad)
                && LibTorchSharp.THSTensor_type(grad) == scalarType && LibTorchSharp.THSTensor_numel(grad) == Length)
            {
                var (start, end) = Storage;
                NativeMemory.Clear((void*)LibTorchSharp.THSTensor_data(grad), (nuint)(end - start));
                return;
            }
        }
        finally
        {
            LibTorchSharp.THSTensor_dispose(grad);
        }

        using var managed = Tensor.grad;
        managed?.zero_();
    }

    private nint LiveHandle()
    {
        if (Tensor.IsInvalid)
        {
            throw new InvalidOperationException($"Parameter '{Name}' has been disposed; the optimizer cannot step it. No optimizer state was changed.");
        }

        var handle = Tensor.Handle;
        if (LibTorchSharp.THSTensor_data(handle) != values)
        {
            throw new InvalidOperationException(
                $"The storage of parameter '{Name}' moved since the optimizer was created (set_(), to() or a new tensor assigned), " +
                "and the optimizer updates the storage it was given: create the optimizer again over the module's current parameters. " +
                "No optimizer state was changed.");
        }

        return handle;
    }

    private void CheckGradient(nint grad)
    {
        if (LibTorchSharp.THSTensor_device_type(grad) != Cpu)
        {
            throw new InvalidOperationException($"The gradient of parameter '{Name}' is not on the CPU; keep the model and its gradients on the CPU. No optimizer state was changed.");
        }

        var type = LibTorchSharp.THSTensor_type(grad);
        if (type != scalarType)
        {
            throw new InvalidOperationException(
                $"The gradient of parameter '{Name}' has dtype {(torch.ScalarType)type}, the parameter {(torch.ScalarType)scalarType}; " +
                "gradients must have the parameter's dtype. No optimizer state was changed.");
        }

        var numel = LibTorchSharp.THSTensor_numel(grad);
        if (numel != Length)
        {
            throw new InvalidOperationException(
                $"The gradient of parameter '{Name}' has {numel} elements, the parameter {Length}. No optimizer state was changed.");
        }

        if (!LibTorchSharp.THSTensor_is_contiguous(grad))
        {
            throw new InvalidOperationException(
                $"The gradient of parameter '{Name}' is not contiguous; the optimizer reads it in place as one row-major block. " +
                "Assign a contiguous gradient (e.g. p.grad = p.grad.contiguous()) before step(). No optimizer state was changed.");
        }
    }

    private static string Dimensions(long[] shape) => string.Join("×", shape);
}
